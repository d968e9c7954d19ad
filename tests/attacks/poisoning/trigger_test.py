"""Trigger: patch placement in every corner, blend, custom masks, errors."""

import numpy as np
import pytest

from keras_mlsec.attacks.poisoning import Trigger


@pytest.mark.parametrize("corner,rows,cols", [("top_left", (1, 4), (1, 4)),
                                              ("top_right", (1, 4), (24, 27)),
                                              ("bottom_left", (24, 27), (1, 4)),
                                              ("bottom_right", (24, 27), (24, 27))])
def test_patch_sits_one_pixel_from_the_chosen_corner(corner, rows, cols):
    trigger = Trigger.patch((28, 28, 1), corner=corner)
    support = np.argwhere(trigger.mask[..., 0] > 0)
    assert support[:, 0].min() == rows[0] and support[:, 0].max() == rows[1] - 1
    assert support[:, 1].min() == cols[0] and support[:, 1].max() == cols[1] - 1
    assert len(support) == 9
    # Checkerboard: 5 bright cells of 9.
    assert trigger.pattern.sum() == 5.0


def test_patch_size_defaults_to_2_on_small_images_and_apply_pastes_it():
    trigger = Trigger.patch((8, 8))
    assert int((trigger.mask > 0).sum()) == 4
    x = np.full((3, 8, 8), 0.5, np.float32)
    out = trigger.apply(x)
    np.testing.assert_array_equal(out[:, 1, 1], 1.0)
    np.testing.assert_array_equal(out[:, 1, 2], 0.0)
    np.testing.assert_array_equal(out[:, 5, 5], 0.5)
    assert np.all(x == 0.5)  # the caller's array is untouched


def test_blend_mixes_every_pixel_with_alpha():
    trigger = Trigger.blend((4, 4, 1), alpha=0.25, seed=3)
    x = np.zeros((2, 4, 4, 1), np.float32)
    np.testing.assert_allclose(trigger.apply(x), np.broadcast_to(0.25 * trigger.pattern, x.shape))
    np.testing.assert_array_equal(Trigger.blend((4, 4, 1), seed=3).pattern, trigger.pattern)


def test_tabular_patch_sets_the_first_features():
    trigger = Trigger.patch((6,), value=2.5)
    out = trigger.apply(np.zeros((2, 6), np.float32))
    np.testing.assert_array_equal(out[0], [2.5, 2.5, 2.5, 0, 0, 0])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="corner"):
        Trigger.patch((28, 28, 1), corner="middle")
    with pytest.raises(ValueError, match="size"):
        Trigger.patch((8, 8, 1), size=8)
    with pytest.raises(ValueError, match="alpha"):
        Trigger.blend((8, 8, 1), alpha=1.5)
    with pytest.raises(ValueError, match="mask"):
        Trigger(np.zeros((4, 4)), np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="mask"):
        Trigger(np.zeros((4, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"shaped \(n, 4, 4\)"):
        Trigger(np.zeros((4, 4)), np.ones((4, 4))).apply(np.zeros((2, 5, 5)))
