import keras
import numpy as np
import tensorflow as tf



from keras_mlsec._core import losses, models, perturbation
def _linear_model():
    inputs = keras.Input((2,))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0, -1.0], [2.0, 0.0]], "float32")])
    return model


def test_input_gradient_of_cross_entropy_by_hand():
    model = _linear_model()
    x = tf.constant([[0.0, 0.0]])
    # At x = 0 the logits are equal, softmax = (0.5, 0.5); for label 0 the
    # gradient of CE w.r.t. x is W (p - onehot) = W @ (-0.5, 0.5) = (-1, -1).
    gradient, loss, logits = perturbation.input_gradient(models.logits_function(model), x, tf.constant([0]))
    np.testing.assert_allclose(gradient.numpy(), [[-1.0, -1.0]], atol=1e-6)
    np.testing.assert_allclose(loss.numpy(), [np.log(2.0)], atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), [[0.0, 0.0]])
    targeted, _, _ = perturbation.input_gradient(models.logits_function(model), x, tf.constant([0]),
                                      targeted=True)
    np.testing.assert_allclose(targeted.numpy(), [[1.0, 1.0]], atol=1e-6)


def test_margin_and_dlr_signs():
    logits = tf.constant([[3.0, 1.0, 0.0, -1.0]])
    np.testing.assert_allclose(losses.margin(tf.constant([0]), logits).numpy(), [2.0])
    np.testing.assert_allclose(losses.margin(tf.constant([1]), logits).numpy(), [-2.0])
    # Untargeted DLR for label 0: -(3 - 1) / (3 - 0) = -2/3.
    np.testing.assert_allclose(losses.dlr_loss(tf.constant([0]), logits).numpy(), [-2.0 / 3.0],
                               rtol=1e-6)


def test_projection_and_random_start_stay_in_ball():
    delta = tf.constant([[3.0, 4.0], [0.1, -0.2]])
    np.testing.assert_allclose(perturbation.project(delta, 1.0, "l2").numpy(),
                               [[0.6, 0.8], [0.1, -0.2]], atol=1e-6)
    np.testing.assert_allclose(perturbation.project(delta, 0.15, "linf").numpy(),
                               [[0.15, 0.15], [0.1, -0.15]], atol=1e-6)
    generator = tf.random.Generator.from_seed(0)
    for norm in ("linf", "l2"):
        start = perturbation.random_start(generator, tf.constant([64, 5]), 0.3, norm)
        assert float(tf.reduce_max(perturbation.lp_norm(start, norm))) <= 0.3 + 1e-6


def test_logits_function_sees_through_wrappers_to_a_softmax_network():
    from keras_mlsec.privacy import DPModel

    inputs = keras.Input((2,))
    dense = keras.layers.Dense(2, activation="softmax", use_bias=False)
    network = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[1.0, -1.0], [2.0, 0.0]], "float32")])
    wrapper = DPModel(network, l2_norm_clip=1.0, noise_multiplier=0.0)
    x = tf.constant([[1.0, 1.0]])
    # The wrapper outputs probabilities; its logits are the network's pre-softmax (3, -1).
    np.testing.assert_allclose(models.logits_function(wrapper)(x).numpy(), [[3.0, -1.0]], atol=1e-6)
    assert models.inner_model(wrapper) is network and models.inner_model(network) is network
