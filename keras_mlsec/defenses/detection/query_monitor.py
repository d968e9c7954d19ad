"""PRADA: detecting model extraction from the distances between a client's queries."""

import collections
import threading

import numpy as np

from keras_mlsec._core import validation as v


class _Client:
    """One client's bounded state: a ring of growing-set entries and a window of distances."""

    def __init__(self, dim, max_history, window):
        self.entries = np.zeros((max_history, dim), np.float32)
        self.norms = np.zeros(max_history, np.float32)
        self.labels = np.full(max_history, -1, np.int64)
        self.next = 0
        self.ring = np.zeros(window)  # the last `window` minimum distances
        self.seen = 0
        self.thresholds = {}  # class -> [count, mean, m2, threshold] of added distances
        self.queries = 0
        self.statistic = None
        self.alert_at = None

    @property
    def distances(self):
        """The minimum distances kept (at most `window`), oldest first."""
        if self.seen <= len(self.ring):
            return self.ring[:self.seen]
        start = self.seen % len(self.ring)
        return np.concatenate([self.ring[start:], self.ring[:start]])


class QueryMonitor:
    """Per-client PRADA detector of model extraction (Juuti et al. 2019).

    For every query of a client, the monitor takes the L2 distance to the
    nearest earlier query of that client with the same predicted class (its
    "growing set"); the query joins the growing set when that distance exceeds
    the class threshold (mean minus standard deviation of the distances that
    entered it). Natural queries give a roughly normal distribution of these
    minimum distances; synthetic ones (Jacobian steps, mixes, pool search)
    do not. Once a client has `min_queries` distances, a Shapiro-Wilk test
    runs after each call; a statistic W below `delta` raises an alert.

    Memory is bounded and allocated at a client's first query: per client, a
    ring of `max_history` growing-set entries and a ring of the last `window`
    distances; at most `max_clients` clients, the least recently seen
    forgotten first (a forgotten client starts afresh). In all about
    `max_clients * (max_history * (input size + 2) + window)` numbers.

    Args:
        delta: alert when the Shapiro-Wilk W statistic falls below it, in (0, 1).
        min_queries: distances needed before testing (PRADA: 100), >= 3.
        window: distances kept and tested per client (the most recent), <= 5000.
        max_history: growing-set entries kept per client.
        max_clients: clients tracked at once.

    Raises:
        ValueError: for a parameter out of range; for a batch whose shape
            differs from the client's earlier queries.

    Example:
        >>> monitor = QueryMonitor()
        >>> alert = monitor.observe(x_batch, model_labels, client_id="alice")

    Reference:
        Juuti, Szyller, Marchal and Asokan, "PRADA: Protecting Against DNN
        Model Stealing Attacks", IEEE EuroS&P 2019.
    """

    def __init__(self, *, delta=0.9, min_queries=100, window=1000, max_history=256,
                 max_clients=1000):
        self.delta = v.check_positive(delta, "delta")
        if self.delta >= 1:
            raise ValueError(f"Expected `delta` in (0, 1). Received: delta={delta}")
        self.min_queries = v.check_positive_int(min_queries, "min_queries")
        if self.min_queries < 3:
            raise ValueError(f"Expected `min_queries` >= 3 (Shapiro-Wilk needs 3 values). "
                             f"Received: min_queries={min_queries}")
        self.window = v.check_positive_int(window, "window")
        if not self.min_queries <= self.window <= 5000:
            raise ValueError(f"Expected `window` in [min_queries, 5000]. Received: window={window}")
        self.max_history = v.check_positive_int(max_history, "max_history")
        self.max_clients = v.check_positive_int(max_clients, "max_clients")
        self._clients = collections.OrderedDict()
        self._lock = threading.Lock()

    def observe(self, x, labels, client_id="default"):
        """Feeds one client's batch of queries and the classes the model gave them.

        Args:
            x: the queries, a batch (first axis).
            labels: the model's predicted class per query (or score rows).
            client_id: any hashable identifying the client.

        Returns:
            True when this client is (now or earlier) flagged as extracting.
        """
        flat = np.asarray(x, np.float32).reshape(len(x), -1)
        labels = np.asarray(labels)
        labels = np.argmax(labels, -1) if labels.ndim == 2 else labels.astype(np.int64)
        if len(labels) != len(flat):
            raise ValueError(f"Expected one label per query ({len(flat)}). Received: "
                             f"labels with {len(labels)} entries.")
        with self._lock:
            client = self._client(client_id, flat.shape[1])
            self._add(client, flat, labels)
            client.queries += len(flat)
            if min(client.seen, self.window) >= self.min_queries:
                from scipy import stats

                client.statistic = float(stats.shapiro(client.distances).statistic)
                if client.statistic < self.delta and client.alert_at is None:
                    client.alert_at = client.queries
            return client.alert_at is not None

    def _client(self, client_id, dim):
        client = self._clients.get(client_id)
        if client is None:
            client = _Client(dim, self.max_history, self.window)
            self._clients[client_id] = client
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        elif client.entries.shape[1] != dim:
            raise ValueError(
                f"Expected queries of {client.entries.shape[1]} values each, like this "
                f"client's earlier queries. Received: x with {dim} values per example.")
        self._clients.move_to_end(client_id)
        return client

    def _add(self, client, flat, labels):
        norms = np.einsum("ij,ij->i", flat, flat)
        to_old = norms[:, None] + client.norms[None, :] - 2.0 * flat @ client.entries.T
        to_new = norms[:, None] + norms[None, :] - 2.0 * flat @ flat.T
        added = []
        for i, label in enumerate(labels):
            same_old = client.labels == label
            best = to_old[i, same_old].min() if same_old.any() else np.inf
            same_new = [j for j in added if labels[j] == label]
            if same_new:
                best = min(best, to_new[i, same_new].min())
            if not np.isfinite(best):  # the class's first query starts its growing set
                added.append(i)
                continue
            distance = float(np.sqrt(max(best, 0.0)))
            client.ring[client.seen % len(client.ring)] = distance
            client.seen += 1
            stats = client.thresholds.setdefault(int(label), [0, 0.0, 0.0, 0.0])
            if distance > stats[3]:
                added.append(i)
                stats[0] += 1  # Welford's running mean and variance of the added distances
                delta = distance - stats[1]
                stats[1] += delta / stats[0]
                stats[2] += delta * (distance - stats[1])
                stats[3] = max(stats[3], stats[1] - np.sqrt(stats[2] / stats[0]))
        for i in added[-self.max_history:]:
            slot = client.next % self.max_history
            client.entries[slot], client.norms[slot] = flat[i], norms[i]
            client.labels[slot] = labels[i]
            client.next += 1

    def statistic(self, client_id):
        """The client's last Shapiro-Wilk W (None before `min_queries` distances)."""
        client = self._clients.get(client_id)
        return None if client is None else client.statistic

    def alert_at(self, client_id):
        """How many queries the client had sent when first flagged (None if never)."""
        client = self._clients.get(client_id)
        return None if client is None else client.alert_at

    def flagged(self, client_id):
        """Whether the client has been flagged as extracting."""
        return self.alert_at(client_id) is not None

    def reset(self, client_id=None):
        """Forgets one client (or every client when `client_id` is None)."""
        with self._lock:
            if client_id is None:
                self._clients.clear()
            else:
                self._clients.pop(client_id, None)

    @property
    def num_clients(self):
        """Clients currently tracked (at most `max_clients`)."""
        return len(self._clients)
