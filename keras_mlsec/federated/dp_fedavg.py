"""DP-FedAvg: Flower's differential-privacy wrappers plus a user-level accountant."""

from keras_mlsec._core import validation as v
from keras_mlsec.federated import accountant as acc
from keras_mlsec.federated._poisson_sampling import PoissonSampling

SIDES = ("server", "client")
# Each keras_mlsec client reports this metric as 1: DP-FedAvg averages clients
# with equal weights, which is what its sensitivity `C / clients_per_round` assumes.
UNIT_WEIGHT_KEY = "unit-weight"


class DPFedAvg:
    """Differentially private FedAvg at user level, with a privacy accountant.

    Clipping and noise are Flower's own strategy wrappers
    (`DifferentialPrivacyServerSideFixedClipping`, the client-side and
    adaptive variants); what Flower lacks is the accounting: `epsilon(rounds)`
    after each round (logged and kept in the `FederatedHistory`) and, with a
    `target_epsilon`, a cap on the number of rounds so that the run stops
    before the target is exceeded. See `keras_mlsec.federated.accountant` for
    the events used.

    Args:
        noise_multiplier: noise std divided by the clipping norm (>= 0).
        clipping_norm: L2 bound on each client's update (the initial bound
            when `adaptive`).
        clients_per_round: clients sampled per round (expected count with
            Poisson sampling).
        adaptive: adaptive clipping (Andrew et al. 2021) instead of fixed.
        side: "server" (the server clips) or "client" (clients clip with
            Flower's clipping mod; `client_app(..., dp=...)` installs it).
        sampling: "fixed" (exactly `clients_per_round` clients, Flower's
            sampling) or "poisson" (each client joins with probability
            `clients_per_round / num_clients`).
        num_clients: the client population; None takes the number of
            connected clients when the run starts.
        target_epsilon: stop before this epsilon is exceeded; None for no cap.
        delta: the delta of the (epsilon, delta) guarantee.
        accountant: "rdp" or "pld".

    Raises:
        ValueError: for a negative noise, a non-positive clipping norm, an
            unknown `side`/`sampling`/`accountant` or a bad `delta`.

    Example:
        >>> dp = DPFedAvg(noise_multiplier=1.0, clipping_norm=1.0, clients_per_round=5,
        ...               target_epsilon=8.0, delta=1e-3)
        >>> app = server_app(model_fn, num_rounds=20, dp=dp)

    Reference:
        McMahan, Ramage, Talwar and Zhang 2018, "Learning Differentially
        Private Recurrent Language Models"; Andrew, Thakkar, McMahan and
        Ramaswamy 2021, "Differentially Private Learning with Adaptive Clipping".
    """

    def __init__(self, *, noise_multiplier, clipping_norm, clients_per_round, adaptive=False,
                 side="server", sampling="fixed", num_clients=None, target_epsilon=None,
                 delta=1e-5, accountant="rdp"):
        self.noise_multiplier = v.check_non_negative(noise_multiplier, "noise_multiplier")
        self.clipping_norm = v.check_positive(clipping_norm, "clipping_norm")
        self.clients_per_round = v.check_positive_int(clients_per_round, "clients_per_round")
        self.adaptive = bool(adaptive)
        self.side = v.check_choice(side, SIDES, "side")
        self.sampling = v.check_choice(sampling, acc.SAMPLINGS, "sampling")
        self.num_clients = None if num_clients is None else acc.check_population(
            clients_per_round, num_clients)[1]
        self.target_epsilon = (None if target_epsilon is None
                               else v.check_positive(target_epsilon, "target_epsilon"))
        self.delta = acc._check_delta(delta)
        self.accountant = v.check_choice(accountant, acc.ACCOUNTANTS, "accountant")
        if self.side == "client" and self.sampling == "poisson":
            raise ValueError(
                'Expected sampling="fixed" with side="client": Flower\'s client-side '
                "wrappers sample a fixed number of clients. Received: sampling=\"poisson\"")

    def epsilon(self, rounds, num_clients=None):
        """Epsilon spent after `rounds` aggregated rounds."""
        return acc.federated_epsilon(
            rounds=rounds, noise_multiplier=self.noise_multiplier,
            clients_per_round=self.clients_per_round,
            num_clients=num_clients or self.num_clients or self.clients_per_round,
            delta=self.delta, sampling=self.sampling, accountant=self.accountant)

    def rounds_allowed(self, num_rounds, num_clients=None):
        """`num_rounds`, or fewer when `target_epsilon` would be exceeded."""
        if self.target_epsilon is None:
            return num_rounds
        return min(num_rounds, acc.max_rounds(
            self.target_epsilon, noise_multiplier=self.noise_multiplier,
            clients_per_round=self.clients_per_round,
            num_clients=num_clients or self.num_clients or self.clients_per_round,
            delta=self.delta, sampling=self.sampling, accountant=self.accountant,
            limit=max(num_rounds, 1)))

    def wrap(self, strategy, num_clients=None):
        """Wraps a Flower strategy in Flower's matching DP wrapper."""
        from flwr.serverapp import strategy as flower

        if self.sampling == "poisson":
            strategy = PoissonSampling(strategy, self.clients_per_round / (
                num_clients or self.num_clients or self.clients_per_round))
        if self.adaptive:
            wrapper = (flower.DifferentialPrivacyServerSideAdaptiveClipping if self.side == "server"
                       else flower.DifferentialPrivacyClientSideAdaptiveClipping)
            return wrapper(strategy, self.noise_multiplier, self.clients_per_round,
                           initial_clipping_norm=self.clipping_norm)
        wrapper = (flower.DifferentialPrivacyServerSideFixedClipping if self.side == "server"
                   else flower.DifferentialPrivacyClientSideFixedClipping)
        return wrapper(strategy, self.noise_multiplier, self.clipping_norm,
                       self.clients_per_round)

    def client_mods(self):
        """The Flower client mods this configuration needs (clipping on the client)."""
        if self.side != "client":
            return []
        from flwr.clientapp import mod

        return [mod.adaptiveclipping_mod if self.adaptive else mod.fixedclipping_mod]

    def get_config(self):
        """The constructor arguments, as a dict."""
        return {name: getattr(self, name) for name in (
            "noise_multiplier", "clipping_norm", "clients_per_round", "adaptive", "side",
            "sampling", "num_clients", "target_epsilon", "delta", "accountant")}
