"""`FederatedHistory`: what happened in each round of a federated run."""

import math

from keras_mlsec._core.reports import JSONReport

_FIELDS = ("round", "loss", "accuracy", "train_loss", "train_accuracy", "epsilon", "accepted",
           "rejected", "dropped", "aggregated")


def _metric(records, round_, name):
    record = records.get(round_)
    if record is None or name not in record:
        return None
    value = float(record[name])
    return value if math.isfinite(value) else None


class FederatedHistory(JSONReport):
    """Per-round loss, accuracy, epsilon and screened updates of a federated run.

    Args:
        rounds: one dict per round with keys `round`, `loss`, `accuracy`
            (server-side evaluation of the global model when the server has
            data, else the clients' weighted evaluation), `train_loss`,
            `train_accuracy` (clients' weighted training metrics), `epsilon`
            (None without DP), `accepted` (partition ids), `rejected` (dicts
            with `node`, `partition`, `reason`), `dropped` and `aggregated`.
        strategy: the strategy's name.
        num_clients: clients connected when the run started.
        initial: `{"loss", "accuracy"}` of the initial model (server-side
            evaluation), or None.
        stopped: why the run stopped before `num_rounds` (e.g. the privacy
            budget), or None.
        dp: the `DPFedAvg` configuration, or None.
        seconds: wall-clock time of the run.

    Example:
        >>> history = simulate(clients, server, num_clients=5)
        >>> history.final_accuracy, history.rejected_count
        >>> history.plot("federated.png"); history.to_json("federated.json")
    """

    def __init__(self, rounds, *, strategy="", num_clients=0, initial=None, stopped=None,
                 dp=None, seconds=0.0):
        self.rounds = [dict(r) for r in rounds]
        self.strategy = strategy
        self.num_clients = int(num_clients)
        self.initial = initial
        self.stopped = stopped
        self.dp = dp
        self.seconds = float(seconds)

    @classmethod
    def from_run(cls, result, screened, **kwargs):
        """Builds the history from Flower's `Result` and `ValidatedStrategy.rounds`."""
        server = result.evaluate_metrics_serverapp
        clients = result.evaluate_metrics_clientapp
        train = result.train_metrics_clientapp
        rounds = []
        for entry in screened:
            r = entry["round"]
            loss, accuracy = _metric(server, r, "loss"), _metric(server, r, "accuracy")
            if accuracy is None:
                loss, accuracy = _metric(clients, r, "eval_loss"), _metric(
                    clients, r, "eval_accuracy")
            rounds.append({**entry, "loss": loss, "accuracy": accuracy,
                           "train_loss": _metric(train, r, "train_loss"),
                           "train_accuracy": _metric(train, r, "train_accuracy")})
        initial = None
        if 0 in server:
            initial = {"loss": _metric(server, 0, "loss"), "accuracy": _metric(server, 0, "accuracy")}
        return cls(rounds, initial=initial, **kwargs)

    @property
    def accuracies(self):
        """Accuracy after each round (None where nothing was evaluated)."""
        return [r["accuracy"] for r in self.rounds]

    @property
    def epsilons(self):
        """Epsilon after each round (None without DP)."""
        return [r["epsilon"] for r in self.rounds]

    @property
    def final_accuracy(self):
        """Accuracy after the last evaluated round, or None."""
        values = [a for a in self.accuracies if a is not None]
        return values[-1] if values else None

    @property
    def rejected_count(self):
        """Number of refused updates over the whole run."""
        return sum(len(r["rejected"]) for r in self.rounds)

    def to_dict(self):
        """A JSON-ready dict."""
        return {"strategy": self.strategy, "num_clients": self.num_clients,
                "initial": self.initial, "stopped": self.stopped, "dp": self.dp,
                "seconds": self.seconds, "rounds": [{k: r.get(k) for k in _FIELDS}
                                                    for r in self.rounds]}

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a history from `to_dict`'s output."""
        return cls(data["rounds"], strategy=data.get("strategy", ""),
                   num_clients=data.get("num_clients", 0), initial=data.get("initial"),
                   stopped=data.get("stopped"), dp=data.get("dp"),
                   seconds=data.get("seconds", 0.0))

    def to_markdown(self):
        """A Markdown table, one row per round."""
        def cell(value, digits=4):
            return "-" if value is None else f"{value:.{digits}g}"

        lines = [f"Federated run: strategy {self.strategy}, {self.num_clients} clients, "
                 f"{len(self.rounds)} rounds, {self.seconds:.1f} s"
                 + (f"; stopped: {self.stopped}" if self.stopped else ""), "",
                 "| round | loss | accuracy | epsilon | accepted | rejected (reasons) |",
                 "|---|---|---|---|---|---|"]
        for r in self.rounds:
            reasons = "; ".join(f"{e['partition']}: {e['reason']}" for e in r["rejected"])
            lines.append(f"| {r['round']} | {cell(r['loss'])} | {cell(r['accuracy'])} | "
                         f"{cell(r['epsilon'])} | {len(r['accepted'])} | "
                         f"{len(r['rejected'])}{' (' + reasons + ')' if reasons else ''} |")
        return "\n".join(lines)

    def plot(self, path):
        """Accuracy per round, epsilon on a second axis, rejected updates marked."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rounds = [r["round"] for r in self.rounds]
        fig, axis = plt.subplots(figsize=(6, 4))
        axis.plot(rounds, [float("nan") if a is None else a for a in self.accuracies],
                  marker="o", label="accuracy")
        bad = [r["round"] for r in self.rounds if r["rejected"]]
        if bad:
            axis.scatter(bad, [0.02] * len(bad), marker="x", color="red",
                         label="rounds with rejected updates")
        axis.set_xlabel("round")
        axis.set_ylabel("accuracy")
        axis.set_ylim(0, 1.05)
        axis.set_title(f"{self.strategy}, {self.num_clients} clients")
        if any(e is not None for e in self.epsilons):
            twin = axis.twinx()
            twin.plot(rounds, [float("nan") if e is None else e for e in self.epsilons],
                      color="gray", linestyle="--", label="epsilon")
            twin.set_ylabel("epsilon")
        axis.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path

    def __repr__(self):
        return (f"FederatedHistory(strategy={self.strategy!r}, rounds={len(self.rounds)}, "
                f"final_accuracy={self.final_accuracy}, rejected={self.rejected_count})")
