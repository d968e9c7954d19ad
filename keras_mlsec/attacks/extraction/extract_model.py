"""Model extraction through a prediction API: random (CopycatCNN), Jacobian, KnockoffNets."""

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.extraction import _strategies
from keras_mlsec.attacks.extraction._oracle import OUTPUTS, QueryOracle, check_victim
from keras_mlsec.attacks.extraction._substitute import Substitute, check_substitute
from keras_mlsec.attacks.extraction.extraction_result import ExtractionResult


def extract_model(victim, *, query_budget, x_pool=None, strategy="random",
                  output="probabilities", substitute=None, input_shape=None, num_classes=None,
                  clip=(0.0, 1.0), batch_size=256, seed=None, epochs=None):
    """Steals a classifier through its predictions, within a strict query budget.

    The attack only calls `victim`; every example it sends counts, and it
    never sends more than `query_budget`. Queries are bought in rounds; the
    substitute is trained (warm start) after each round, and a snapshot per
    round gives the agreement-versus-queries curve of `ExtractionResult.report`.

    Strategies:
        "random": pool examples in random order, or uniform noise in `clip`
            without a pool (CopycatCNN, Correia-Silva et al. 2018).
        "jacobian": seed examples, then Jacobian-based dataset augmentation
            `x + lambda * sign(d substitute[victim label] / dx)`, doubling each
            round, lambda = 0.1 of the clip width with a sign flip every 3
            rounds (Papernot et al. 2017). Needs a Keras substitute.
        "knockoff": KnockoffNets' adaptive sampler, a gradient bandit over
            k-means clusters of the pool rewarded by certainty, diversity and
            the substitute's loss (Orekondy et al. 2019). Needs `x_pool`.
    When the pool runs out, new queries are convex mixes of two pool examples.

    Args:
        victim: a `keras.Model` or any callable `x -> scores or labels`
            (e.g. the client of a remote API). Scores may be probabilities,
            logits or one sigmoid column.
        query_budget: the most examples the attack may send, an int >= 1.
        x_pool: unlabelled inputs the attacker owns (natural data), inside
            `clip`; required by "knockoff", optional otherwise.
        strategy: "random", "jacobian" or "knockoff".
        output: what the victim reveals: "probabilities" or "labels" (the
            attacker keeps only the arg-max of scores).
        substitute: None (the reference CNN for images, MLP otherwise),
            "random_forest" (scikit-learn), a `keras.Model` to clone, or a
            function `(input_shape, num_classes) -> keras.Model`.
        input_shape: per-example input shape; default from the victim model
            or `x_pool`.
        num_classes: number of classes; default from the victim's answers
            (required for a victim returning labels only).
        clip: `(min, max)` input domain of the queries, or None.
        batch_size: examples per call to the victim.
        seed: seed of sampling and substitute initialisation.
        epochs: training epochs per round; default about 20,000 examples
            seen, between 10 and 50 epochs.

    Returns:
        An `ExtractionResult` (`substitute`, `queries_used`, `agreement(x)`,
        `report(x_test, y_test)`).

    Raises:
        TypeError: when `victim` is not callable.
        ValueError: for a budget <= 0, an unknown strategy or output, a pool
            outside `clip`, a missing pool or shape; on the first bad answer
            (NaN, wrong number of rows, a shape that changes between calls).

    Example:
        >>> result = extract_model(victim, query_budget=1000, x_pool=x_unlabelled,
        ...                        strategy="knockoff")
        >>> result.agreement(x_test)
        0.95

    Reference:
        Correia-Silva et al., "Copycat CNN", IJCNN 2018; Papernot et al.,
        "Practical Black-Box Attacks against Machine Learning", AsiaCCS 2017;
        Orekondy, Schiele and Fritz, "Knockoff Nets", CVPR 2019.
    """
    setup = _check_arguments(victim, query_budget, x_pool, strategy, output, substitute,
                             input_shape, num_classes, clip, batch_size, seed, epochs)
    rng = np.random.default_rng(setup["seed"])
    oracle = QueryOracle(victim, query_budget=query_budget, output=output,
                         num_classes=setup["num_classes"], batch_size=setup["batch_size"])
    sampler = _strategies.Sampler(setup["pool"], setup["input_shape"], setup["clip"], rng)
    run = _LazyRun(oracle, substitute, sampler, setup)
    if strategy == "random":
        _strategies.random_strategy(run, rng)
    elif strategy == "jacobian":
        _strategies.jacobian_strategy(run, rng, clip=setup["clip"])
    else:
        _strategies.knockoff_strategy(run, rng)
    return ExtractionResult(
        substitute=run.substitute.result, victim=victim, queries_used=oracle.queries_used,
        query_budget=oracle.query_budget, strategy=strategy, output=output,
        queries=np.concatenate(run.x), answers=np.concatenate(run.answers),
        history=run.history, num_classes=run.substitute.num_classes)


class _LazyRun(_strategies.Run):
    """A run whose substitute is built once the victim's class count is known."""

    def __init__(self, oracle, spec, sampler, setup):
        super().__init__(oracle, None, sampler, setup["epochs"])
        self._spec, self._setup = spec, setup

    def buy(self, x):
        answers = super().buy(x)
        if self.substitute is None:
            self.substitute = Substitute(self._spec, self._setup["input_shape"],
                                         self.oracle.num_classes, seed=self._setup["seed"])
        return answers


def _check_arguments(victim, query_budget, x_pool, strategy, output, substitute, input_shape,
                     num_classes, clip, batch_size, seed, epochs):
    check_victim(victim)
    v.check_positive_int(query_budget, "query_budget")
    v.check_choice(strategy, _strategies.STRATEGIES, "strategy")
    v.check_choice(output, OUTPUTS, "output")
    check_substitute(substitute)
    clip = v.check_clip(clip)
    setup = {"clip": clip, "seed": v.check_seed(seed),
             "batch_size": v.check_positive_int(batch_size, "batch_size"),
             "epochs": None if epochs is None else v.check_positive_int(epochs, "epochs"),
             "num_classes": (None if num_classes is None
                             else v.check_positive_int(num_classes, "num_classes"))}
    if setup["num_classes"] == 1:
        raise ValueError("Expected `num_classes` >= 2. Received: num_classes=1")
    if strategy == "jacobian" and substitute == "random_forest":
        raise ValueError(
            'Expected a Keras substitute for strategy="jacobian" (it follows the '
            'substitute\'s input gradients). Received: substitute="random_forest".')
    if x_pool is None and strategy == "knockoff":
        raise ValueError(
            'Expected `x_pool` (natural inputs the attacker owns) for strategy="knockoff". '
            "Received: x_pool=None.")
    model_shape = v._model_input_shape(victim) if hasattr(victim, "input_shape") else None
    if x_pool is not None:
        x_pool = v.check_inputs(x_pool, clip=clip, name="x_pool")
        if model_shape is not None and tuple(model_shape) != x_pool.shape[1:] and all(
                d is not None for d in model_shape):
            raise ValueError(
                f"Expected `x_pool` examples shaped {tuple(model_shape)} like the victim's "
                f"input. Received: x_pool with shape {x_pool.shape}.")
    shape = input_shape or (x_pool.shape[1:] if x_pool is not None else model_shape)
    if shape is None or any(d is None for d in shape):
        raise ValueError(
            "Expected `input_shape` (per-example shape) when neither the victim is a "
            f"keras.Model nor `x_pool` is given. Received: input_shape={input_shape!r}.")
    shape = tuple(int(d) for d in shape)
    if x_pool is not None and shape != x_pool.shape[1:]:
        raise ValueError(
            f"Expected `x_pool` examples of shape input_shape={shape}. Received: x_pool "
            f"with shape {x_pool.shape}.")
    setup.update(pool=x_pool, input_shape=shape)
    return setup

