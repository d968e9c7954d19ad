"""`ModelExtraction`: the hyper-parameters of `extract_model` kept in an object."""

from keras_mlsec._core import validation as v
from keras_mlsec.attacks.extraction._oracle import OUTPUTS
from keras_mlsec.attacks.extraction._strategies import STRATEGIES
from keras_mlsec.attacks.extraction._substitute import check_substitute
from keras_mlsec.attacks.extraction.extract_model import extract_model


class ModelExtraction:
    """`extract_model`'s hyper-parameters kept in an object; call it on a victim.

    Example:
        >>> attack = ModelExtraction(query_budget=500, strategy="jacobian")
        >>> result = attack(victim, x_pool=x_seed)
    """

    def __init__(self, *, query_budget, strategy="random", output="probabilities",
                 substitute=None, clip=(0.0, 1.0), batch_size=256, seed=None, epochs=None):
        v.check_positive_int(query_budget, "query_budget")
        v.check_choice(strategy, STRATEGIES, "strategy")
        v.check_choice(output, OUTPUTS, "output")
        check_substitute(substitute)
        v.check_clip(clip)
        self.query_budget, self.strategy, self.output = query_budget, strategy, output
        self.substitute, self.clip, self.batch_size = substitute, clip, batch_size
        self.seed, self.epochs = seed, epochs

    def __call__(self, victim, *, x_pool=None, input_shape=None, num_classes=None):
        """Runs `extract_model` on `victim` with the kept hyper-parameters."""
        return extract_model(victim, query_budget=self.query_budget, x_pool=x_pool,
                             strategy=self.strategy, output=self.output,
                             substitute=self.substitute, input_shape=input_shape,
                             num_classes=num_classes, clip=self.clip,
                             batch_size=self.batch_size, seed=self.seed, epochs=self.epochs)
