"""Randomized smoothing (Cohen et al. 2019): a Gaussian-noise layer and `certify`."""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_mlsec._core import validation as v


def _check_sigma(sigma):
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not (
            np.isfinite(sigma) and sigma > 0):
        raise ValueError(
            "Expected `sigma` (the noise standard deviation) to be a finite number > 0. "
            f"Received: sigma={sigma!r}")
    return float(sigma)


@keras.saving.register_keras_serializable(package="keras_mlsec")
class RandomizedSmoothing(keras.layers.Layer):
    """Adds Gaussian noise N(0, sigma^2 I) to its inputs, in training and inference.

    Placed in front of a classifier, one forward pass is one Monte-Carlo sample
    of the smoothed classifier g(x) = argmax_c P(f(x + noise) = c). Training
    with the layer in place (noise augmentation) is what makes f accurate
    under noise; `certify` then turns counts of noisy predictions into a
    certified L2 radius. Unlike `keras.layers.GaussianNoise`, the noise is
    also added at inference. The layer is random (`stochastic = True`), so an
    honest evaluation attacks it with Expectation over Transformation (EOT).

    Shape and dtype are kept. Noise is not clipped, so outputs can leave the
    input range (clipping would change the certified guarantee).

    Args:
        sigma: noise standard deviation, > 0 (in input units).
        seed: int seed of the noise for reproducible outputs, or None. The
            generator state is saved with the model, so a model loaded from
            a `.keras` file continues the same noise sequence.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype...).

    Returns:
        Called on a tensor, the tensor plus Gaussian noise.

    Raises:
        ValueError: for a `sigma` that is not a finite number > 0.
        TypeError: for a `seed` that is not an int or None.

    Example:
        >>> smoothed = keras.Sequential([RandomizedSmoothing(sigma=0.25), classifier])
        >>> classes, radii = RandomizedSmoothing(sigma=0.25).certify(classifier, x)

    Reference:
        Cohen, Rosenfeld and Kolter, "Certified Adversarial Robustness via
        Randomized Smoothing", ICML 2019.
    """

    stochastic = True

    def __init__(self, sigma=0.25, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.sigma = _check_sigma(sigma)
        self.seed = v.check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs):
        noise = keras.random.normal(tf.shape(inputs), stddev=self.sigma,
                                    seed=self.seed_generator, dtype=inputs.dtype)
        return inputs + noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def certify(self, model, x, *, n0=100, n=1000, alpha=0.001, batch_size=1000, seed=None):
        """Certifies `model` smoothed with this layer's `sigma`; see `certify`."""
        return certify(model, x, sigma=self.sigma, n0=n0, n=n, alpha=alpha,
                       batch_size=batch_size, seed=self.seed if seed is None else seed)

    def get_config(self):
        config = super().get_config()
        config.update({"sigma": self.sigma, "seed": self.seed})
        return config


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(
            "Expected `alpha` (the failure probability) in (0, 1), e.g. 0.001. "
            f"Received: alpha={alpha!r}")
    return float(alpha)


def _counts(predict, x_one, num, num_classes, batch_size, rng, sigma):
    counts = np.zeros(num_classes, np.int64)
    remaining = num
    while remaining > 0:
        size = min(batch_size, remaining)
        noise = rng.standard_normal((size, *x_one.shape)).astype(np.float32) * sigma
        labels = predict(tf.constant(x_one[None] + noise)).numpy()
        counts += np.bincount(labels, minlength=num_classes)[:num_classes]
        remaining -= size
    return counts


def lower_confidence_bound(successes, trials, alpha):
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion."""
    from scipy.stats import beta

    if successes == 0:
        return 0.0
    return float(beta.ppf(alpha, successes, trials - successes + 1))


def certify(model, x, *, sigma, n0=100, n=1000, alpha=0.001, batch_size=1000, seed=None):
    """Predicts with the Gaussian-smoothed classifier and certifies an L2 radius.

    CERTIFY of Cohen et al. (2019): for each example, `n0` noisy copies pick
    the top class cA; `n` fresh noisy copies count how often the base
    classifier returns cA; pA_lower is the one-sided (1 - alpha)
    Clopper-Pearson lower bound on that probability. When pA_lower > 1/2 the
    smoothed classifier returns cA on the whole L2 ball of radius
    `sigma * Phi^-1(pA_lower)` around x, with probability at least
    1 - alpha; otherwise it abstains.

    Args:
        model: the base classifier, a single-output `keras.Model` (logits or
            probabilities) trained with Gaussian noise of this `sigma`. Do not
            put a `RandomizedSmoothing` layer in it: noise is added here.
        x: inputs, a batch of at least 2 dimensions.
        sigma: noise standard deviation, > 0.
        n0: noisy samples used to select the class.
        n: noisy samples used to estimate its probability (`n >= n0` is
            typical; the radius can never exceed `sigma * Phi^-1(1 - alpha ** (1 / n))`).
        alpha: failure probability of the certificate, in (0, 1).
        batch_size: noisy copies per forward pass.
        seed: int seed of the noise, or None.

    Returns:
        `(classes, radii)`: int64 array of predicted classes, -1 where the
        smoothed classifier abstains, and float64 array of certified L2 radii
        (0 where it abstains).

    Raises:
        ValueError: for a bad `sigma`, `n0`, `n`, `alpha`, `batch_size` or `x`.
        TypeError: when `model` is not a `keras.Model` or `seed` not an int.

    Example:
        >>> classes, radii = certify(classifier, x_test[:10], sigma=0.25, n=1000)
        >>> certified_accuracy = np.mean((classes == y_test[:10]) & (radii >= 0.5))

    Reference:
        Cohen, Rosenfeld and Kolter, "Certified Adversarial Robustness via
        Randomized Smoothing", ICML 2019.
    """
    from scipy.stats import norm

    from keras_mlsec._core import models
    from keras_mlsec._core.models import label_predictor, num_classes_of

    sigma = _check_sigma(sigma)
    n0 = v.check_positive_int(n0, "n0")
    n = v.check_positive_int(n, "n")
    alpha = _check_alpha(alpha)
    batch_size = v.check_positive_int(batch_size, "batch_size")
    seed = v.check_seed(seed)
    model = v.check_model(model)
    x = v.check_inputs(x, model=model)
    logits_fn = models.logits_function(model)
    predict = label_predictor(logits_fn)
    num_classes = num_classes_of(model, logits_fn, x)
    rng = np.random.default_rng(seed)
    classes = np.full(len(x), -1, np.int64)
    radii = np.zeros(len(x), np.float64)
    for i, x_one in enumerate(x):
        top = int(np.argmax(_counts(predict, x_one, n0, num_classes, batch_size, rng, sigma)))
        n_top = int(_counts(predict, x_one, n, num_classes, batch_size, rng, sigma)[top])
        p_lower = lower_confidence_bound(n_top, n, alpha)
        if p_lower > 0.5:
            classes[i] = top
            radii[i] = sigma * float(norm.ppf(p_lower))
    return classes, radii
