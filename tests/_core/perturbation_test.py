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


def test_projected_step_by_hand_on_every_gradient_path():
    model = _linear_model()  # held: the logits function keeps only a weak reference
    logits_fn = models.logits_function(model)
    x, labels = tf.constant([[0.5, 0.5]]), tf.constant([0])
    # At x the logits are (1.5, -0.5): the CE gradient for label 0 is W (p - onehot), whose
    # entries are both negative, so one L-inf step of 0.1 moves to (0.4, 0.4); eps = 0.05
    # projects it back to (0.45, 0.45).
    common = dict(eps=0.05, step_size=0.1, norm="linf", clip=(0.0, 1.0))
    plain = perturbation.projected_step(logits_fn, x, x, labels, **common)
    np.testing.assert_allclose(plain.numpy(), [[0.45, 0.45]], atol=1e-6)
    eot = perturbation.projected_step(logits_fn, x, x, labels, eot_samples=3, **common)
    np.testing.assert_allclose(eot.numpy(), plain.numpy())
    given = perturbation.projected_step(None, x, x, None, gradient=tf.constant([[-1.0, 2.0]]),
                                        **common)
    np.testing.assert_allclose(given.numpy(), [[0.45, 0.55]], atol=1e-6)
    # Targeted: descend the loss of the target, towards (0.55, 0.55).
    towards = perturbation.projected_step(logits_fn, x, x, labels, targeted=True, **common)
    np.testing.assert_allclose(towards.numpy(), [[0.55, 0.55]], atol=1e-6)


def test_iterate_runs_the_step_the_given_number_of_times_eagerly_and_in_a_graph():
    start = tf.constant([0.0])
    assert float(perturbation.iterate(lambda a: a + 1.0, start, 30)[0]) == 30.0
    graph = tf.function(lambda s: perturbation.iterate(lambda a: a + 1.0, start, s))
    assert float(graph(tf.constant(25))[0]) == 25.0
    unrolled = tf.function(lambda: perturbation.iterate(lambda a: a + 1.0, start, 3))
    assert float(unrolled()[0]) == 3.0


def test_adam_update_by_hand():
    from keras_mlsec._core.adam import adam_update

    gradient = tf.constant([2.0, -0.5])
    zeros = tf.zeros_like(gradient)
    delta, m, s = adam_update(gradient, zeros, zeros, 0, 0.1)
    # First step: bias-corrected m_hat = g, s_hat = g^2, so delta = 0.1 * g / (|g| + 1e-8).
    np.testing.assert_allclose(delta.numpy(), [0.1, -0.1], rtol=1e-5)  # float32
    np.testing.assert_allclose(m.numpy(), [0.2, -0.05], rtol=1e-6)
    np.testing.assert_allclose(s.numpy(), [0.004, 0.00025], rtol=1e-5)
    delta, _, _ = adam_update(tf.constant([0.0, 0.0]), m, s, 1, 0.1)
    # Second step with a zero gradient: m = 0.9 * 0.2, m_hat = 0.18 / (1 - 0.9^2);
    # s = 0.999 * 0.004, s_hat = 0.003996 / (1 - 0.999^2).
    expected = 0.1 * (0.18 / 0.19) / np.sqrt(0.003996 / 0.001999)
    np.testing.assert_allclose(delta.numpy()[0], expected, rtol=1e-3)  # float32 1 - 0.999^2
