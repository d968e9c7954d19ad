import numpy as np
import pytest
from flwr.serverapp.strategy import FedAvg

from keras_mlsec.federated import NormBoundedFedAvg, ValidatedStrategy
from keras_mlsec.federated._updates import clip_update, update_norm, update_problem

OLD = [np.zeros((2, 2), np.float32), np.zeros(3, np.float32)]


def test_update_problem_reasons():
    good = [np.full((2, 2), 0.1, np.float32), np.zeros(3, np.float32)]
    assert update_problem(good, OLD, max_norm=1.0) is None
    assert update_problem(good[:1], OLD) == "expected 2 arrays, got 1"
    assert "shape (4,)" in update_problem([np.zeros(4, np.float32), OLD[1]], OLD)
    assert "dtype float64" in update_problem([np.zeros((2, 2)), OLD[1]], OLD)
    nan = [good[0], np.array([0, np.nan, 0], np.float32)]
    assert update_problem(nan, OLD) == "non-finite values in array 1"
    inf = [np.full((2, 2), np.inf, np.float32), OLD[1]]
    assert update_problem(inf, OLD) == "non-finite values in array 0"
    big = [np.full((2, 2), 3.0, np.float32), OLD[1]]  # norm 6
    assert update_problem(big, OLD, max_norm=5.0) == "update norm 6 above the bound 5"


def test_clip_update_by_hand():
    new = [np.full((2, 2), 3.0, np.float32), np.zeros(3, np.float32)]  # norm 6
    clipped = clip_update(new, OLD, 3.0)
    assert update_norm(clipped, OLD) == pytest.approx(3.0)
    np.testing.assert_allclose(clipped[0], np.full((2, 2), 1.5))
    small = [np.full((2, 2), 0.5, np.float32), np.zeros(3, np.float32)]
    np.testing.assert_array_equal(clip_update(small, OLD, 3.0)[0], small[0])


def test_bad_wrapper_arguments():
    with pytest.raises(TypeError, match="strategy"):
        ValidatedStrategy("fedavg")
    with pytest.raises(ValueError, match="max_update_norm"):
        ValidatedStrategy(FedAvg(), max_update_norm=-1.0)
    with pytest.raises(ValueError, match="min_clients"):
        ValidatedStrategy(FedAvg(), min_clients=0)
    with pytest.raises(ValueError, match="norm_bound"):
        NormBoundedFedAvg(norm_bound=0.0)


def test_screening_messages(flower_task):
    from flwr.app import Array, ArrayRecord, Error, Message, MetricRecord, RecordDict

    from federated_case import train_message

    instruction = train_message(OLD)

    def reply(weights, pid):
        return Message(RecordDict({"arrays": ArrayRecord({str(i): Array(np.asarray(w))
                                                          for i, w in enumerate(weights)}),
                                   "metrics": MetricRecord({"num-examples": 10,
                                                            "partition-id": pid})}),
                       reply_to=instruction)

    good = [np.full((2, 2), 1.0, np.float32), np.ones(3, np.float32)]
    bad = [np.full((2, 2), np.nan, np.float32), np.ones(3, np.float32)]
    failed = Message(Error(code=0, reason="boom"), reply_to=instruction)
    strategy = ValidatedStrategy(FedAvg(), min_clients=2)
    strategy._global_weights, strategy._sampled = OLD, 5
    arrays, _ = strategy.aggregate_train(1, [reply(good, 0), reply(good, 1), reply(bad, 2),
                                             failed])
    np.testing.assert_allclose(arrays.to_numpy_ndarrays()[0], good[0])
    record = strategy.rounds[-1]
    assert record["accepted"] == [0, 1] and record["dropped"] == 1 and record["aggregated"]
    reasons = {entry["partition"]: entry["reason"] for entry in record["rejected"]}
    assert reasons[2] == "non-finite values in array 0"
    assert reasons[None] == "client error: boom"
    # Below min_clients the round keeps the global model.
    arrays, metrics = strategy.aggregate_train(2, [reply(good, 0), reply(bad, 1)])
    assert arrays is None and metrics is None and not strategy.rounds[-1]["aggregated"]


def test_norm_bounded_fedavg_clips_before_averaging(flower_task):
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

    from federated_case import train_message

    instruction = train_message(OLD)
    updates = [[np.full((2, 2), 0.5, np.float32), np.zeros(3, np.float32)],  # norm 1
               [np.full((2, 2), 50.0, np.float32), np.zeros(3, np.float32)]]  # norm 100
    replies = [Message(RecordDict({"arrays": ArrayRecord(u),
                                   "metrics": MetricRecord({"num-examples": 1})}),
                       reply_to=instruction) for u in updates]
    strategy = NormBoundedFedAvg(norm_bound=2.0)
    strategy._global_weights = OLD
    arrays, _ = strategy.aggregate_train(1, replies)
    # mean of 0.5 and the boosted update clipped to norm 2 (entries 1.0)
    np.testing.assert_allclose(arrays.to_numpy_ndarrays()[0], np.full((2, 2), 0.75))
