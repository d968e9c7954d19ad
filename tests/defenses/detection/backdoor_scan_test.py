"""BackdoorScan and the MAD anomaly index: values worked out by hand, JSON, Markdown, plot."""

import numpy as np
import pytest

from keras_mlsec.defenses import BackdoorScan
from keras_mlsec.defenses.detection.backdoor_scan import anomaly_indices


def test_anomaly_index_by_hand():
    # median 10, |deviations| 0 0 2 2 9 -> MAD 2, scaled 2.9652.
    index = anomaly_indices([10.0, 10.0, 12.0, 8.0, 1.0])
    np.testing.assert_allclose(index, [0, 0, -2 / 2.9652, 2 / 2.9652, 9 / 2.9652], rtol=1e-4)
    # A class never reached counts as twice the largest finite norm.
    np.testing.assert_allclose(anomaly_indices([1.0, 2.0, np.inf]), [1 / 1.4826, 0, -2 / 1.4826],
                               rtol=1e-4)


def _scan():
    norms = [30.0, 28.0, 3.0, 31.0, 29.0]
    masks = np.zeros((5, 4, 4, 1), np.float32)
    masks[2, :2, :2] = 1
    return BackdoorScan(norms, masks, np.ones((5, 4, 4, 1)), threshold=2.0)


def test_flags_the_small_trigger_and_round_trips(tmp_path):
    scan = _scan()
    assert scan.flagged_classes == [2] and scan.is_backdoored
    mask, pattern = scan.trigger(2)
    assert mask.sum() == 4 and pattern.shape == (4, 4, 1)
    again = BackdoorScan.from_json(scan.to_json())
    np.testing.assert_array_equal(again.norms, scan.norms)
    assert again.flagged_classes == [2]
    assert "| 2 | 3.0 |" in scan.to_markdown()
    path = scan.plot(str(tmp_path / "scan.png"))
    assert (tmp_path / "scan.png").stat().st_size > 1000 and path.endswith(".png")
    with pytest.raises(ValueError, match="target"):
        scan.trigger(7)
