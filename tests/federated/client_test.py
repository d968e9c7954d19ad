import keras
import numpy as np
import pytest
from flwr.app import MessageType

from federated_case import node_context, tiny_model, tiny_parts, train_message
from keras_mlsec.federated import byzantine, client_app
from keras_mlsec.federated._updates import update_norm


def _load(parts):
    return lambda pid, n: parts[pid]


def test_train_and_evaluate_replies(flower_task):
    parts = tiny_parts(2)
    app = client_app(tiny_model, _load(parts), epochs=2, batch_size=16, seed=0)
    start = tiny_model().get_weights()
    reply = app(train_message(start), node_context(1, 2))
    metrics = reply.content["metrics"]
    assert metrics["num-examples"] == 60 and metrics["partition-id"] == 1
    assert 0.0 <= metrics["train_accuracy"] <= 1.0 and metrics["train_loss"] > 0
    weights = reply.content["arrays"].to_numpy_ndarrays()
    assert [w.shape for w in weights] == [w.shape for w in start]
    assert update_norm(weights, start) > 0  # it trained
    evaluation = app(train_message(weights, MessageType.EVALUATE), node_context(1, 2))
    assert evaluation.content["metrics"]["eval_accuracy"] > 0.3
    assert not evaluation.content.array_records


def test_a_separate_evaluation_split_is_used(flower_task):
    (x, y), (x2, y2) = tiny_parts(1)[0], tiny_parts(2)[1]
    app = client_app(tiny_model, lambda pid, n: ((x, y), (x2[:7], y2[:7])))
    reply = app(train_message(tiny_model().get_weights(), MessageType.EVALUATE),
                node_context(0, 1))
    assert reply.content["metrics"]["num-examples"] == 7


def test_malicious_partition_sends_its_attack(flower_task):
    parts = tiny_parts(2)
    app = client_app(tiny_model, _load(parts), byzantine=byzantine("noise", clients=[1],
                                                                   scale=5.0))
    start = tiny_model().get_weights()
    honest = app(train_message(start), node_context(0, 2)).content["arrays"]
    noisy = app(train_message(start), node_context(1, 2)).content["arrays"]
    assert update_norm(noisy.to_numpy_ndarrays(), start) > 10 * update_norm(
        honest.to_numpy_ndarrays(), start)


def test_optimizer_state_does_not_leak_between_messages(flower_task):
    def momentum_model():
        model = tiny_model()
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=model.loss, metrics=["accuracy"])
        return model

    parts = tiny_parts(2)
    app = client_app(momentum_model, _load(parts), seed=0)
    start = momentum_model().get_weights()
    first = app(train_message(start), node_context(0, 2)).content["arrays"].to_numpy_ndarrays()
    app(train_message(start), node_context(1, 2))  # another partition in the same process
    again = app(train_message(start), node_context(0, 2)).content["arrays"].to_numpy_ndarrays()
    for a, b in zip(first, again):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_model_fn_must_return_a_compiled_model():
    def uncompiled():
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])

    with pytest.raises(ValueError, match=r"Expected `model_fn\(\)` to return a compiled"):
        client_app(uncompiled, lambda pid, n: None)
    with pytest.raises(TypeError, match=r"model_fn\(\)` to return a keras.Model"):
        client_app(lambda: "model", lambda pid, n: None)
    with pytest.raises(TypeError, match="load_partition"):
        client_app(tiny_model, [1, 2])
    with pytest.raises(TypeError, match="byzantine"):
        client_app(tiny_model, lambda pid, n: None, byzantine="noise")
    with pytest.raises(ValueError, match="epochs"):
        client_app(tiny_model, lambda pid, n: None, epochs=0)


def test_empty_partition_and_mismatched_weights_are_named(flower_task):
    app = client_app(tiny_model, lambda pid, n: (np.zeros((0, 64)), np.zeros(0)))
    with pytest.raises(ValueError, match=r"load_partition\(0, 2\)\[0\]` to hold at least one"):
        app(train_message(tiny_model().get_weights()), node_context(0, 2))
    app = client_app(tiny_model, _load(tiny_parts(1)))
    wrong = [np.zeros((64, 5), np.float32), np.zeros(5, np.float32)]
    with pytest.raises(ValueError, match=r"array 0 to have shape \(64, 10\)"):
        app(train_message(wrong), node_context(0, 1))
    with pytest.raises(ValueError, match="partition-id"):
        from flwr.app import Context, RecordDict

        app(train_message(tiny_model().get_weights()),
            Context(run_id=1, node_id=1, node_config={}, state=RecordDict(), run_config={}))
