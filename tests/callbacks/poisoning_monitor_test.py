"""PoisoningMonitor: logs suspected_poison_fraction during fit and keeps the suspects."""

import numpy as np
import pytest

from keras_mlsec.callbacks import PoisoningMonitor
from poisoning_case import TARGET, backdoored
from keras_mlsec.datasets import reference_model


@pytest.mark.slow
def test_logs_the_fraction_and_finds_the_poison(tmp_path):
    import json

    from keras_mlsec.integrity import AuditLog

    _, data, _, _ = backdoored()
    model = reference_model("mlp", data.x.shape[1:], 10, seed=0)
    log = AuditLog(tmp_path / "audit.jsonl")
    monitor = PoisoningMonitor(data.x, data.y, method="activation_clustering", every=10,
                               layer=model.layers[-3].name, audit_log=log)
    history = model.fit(data.x, data.y, epochs=30, batch_size=32, verbose=0,
                        callbacks=[monitor])
    fractions = history.history["suspected_poison_fraction"]
    assert len(fractions) == 3 and [e for e, _ in monitor.history] == [9, 19, 29]
    assert fractions[-1] == pytest.approx(len(monitor.suspected_indices) / len(data.x))
    found = np.isin(data.poison_indices, monitor.suspected_indices).mean()
    assert found >= 0.6  # 0.74 measured; training order is not seeded
    assert TARGET in monitor.history[-1][1].flagged_classes
    log.close()
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    suspects = [e["data"] for e in events if e.get("event") == "poisoning_suspects"]
    assert suspects and suspects[-1]["epoch"] == 29
    assert suspects[-1]["suspected_indices"] == [int(i) for i in monitor.suspected_indices]


def test_config_and_bad_arguments():
    x = np.zeros((20, 4), np.float32)
    y = np.arange(20) % 2
    monitor = PoisoningMonitor(x, y, every=3, k=5)
    assert monitor.get_config() == {"method": "spectral", "every": 3, "layer": None,
                                    "verbose": 0, "k": 5}
    with pytest.raises(ValueError, match="method"):
        PoisoningMonitor(x, y, method="svd")
    with pytest.raises(ValueError, match="every"):
        PoisoningMonitor(x, y, every=0)
    with pytest.raises(ValueError, match="labels"):
        PoisoningMonitor(x, y[:5])
