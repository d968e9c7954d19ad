import keras
import numpy as np
import pytest

from keras_mlsec.callbacks import FairnessMonitor
from keras_mlsec.datasets import load_credit
from keras_mlsec.responsible import fairness_report

KEYS = ("val_disparate_impact", "val_statistical_parity_difference",
        "val_equal_opportunity_difference")


def test_metrics_are_logged_every_check_and_match_a_report():
    (x, y), (x_val, y_val) = load_credit(bias=0.5, num_examples=400, seed=0)
    model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(1)])
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    monitor = FairnessMonitor(x_val, y_val, protected=0, every=2)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[monitor])
    for key in KEYS:
        assert len(history.history[key]) == 2
    assert [epoch for epoch, _ in monitor.history] == [1, 3]
    direct = fairness_report(model, x_val, y_val, protected=0)
    assert history.history["val_disparate_impact"][-1] == pytest.approx(direct.disparate_impact)


def test_bad_input_is_refused_where_it_enters():
    (x, y), _ = load_credit(num_examples=100)
    with pytest.raises(ValueError, match="binary protected attribute"):
        FairnessMonitor(x, y, protected=1)
    with pytest.raises(ValueError, match="binary labels"):
        FairnessMonitor(x, np.arange(len(x)) % 3, protected=0)
    with pytest.raises(ValueError, match="threshold"):
        FairnessMonitor(x, y, protected=0, threshold=2)
