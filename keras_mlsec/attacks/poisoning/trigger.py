"""`Trigger`: the pattern a backdoor stamps on inputs, `x * (1 - mask) + pattern * mask`."""

import numbers

import numpy as np

from keras_mlsec._core import validation as v

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def is_image(sample_shape):
    """Whether examples shaped `sample_shape` are images: (h, w) or (h, w, channels)."""
    return len(sample_shape) in (2, 3)


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha <= 1:
        raise ValueError(f"Expected `alpha` in (0, 1]. Received: alpha={alpha!r}")
    return float(alpha)


class Trigger:
    """A backdoor trigger: a pattern pasted through a mask, `x * (1 - mask) + pattern * mask`.

    `mask` values in [0, 1] say how much of the pattern replaces each input
    value: 1 on a patch (BadNets), a constant `alpha` everywhere for a blended
    trigger (Chen et al. 2017). Build one with `Trigger.patch`, `Trigger.blend`,
    or directly from arrays shaped like one example.

    Args:
        pattern: array shaped like one example.
        mask: array of the same shape (or broadcastable to it) in [0, 1].
        kind: "patch", "blend" or "custom" (informative).

    Raises:
        ValueError: when the pattern and mask shapes disagree, the mask leaves
            [0, 1] or holds no non-zero value, or values are not finite.

    Example:
        >>> trigger = Trigger.patch((28, 28, 1), size=3, corner="top_left")
        >>> x_triggered = trigger.apply(x_test)

    Reference:
        Gu et al., "BadNets: Identifying Vulnerabilities in the Machine Learning
        Model Supply Chain", 2017. Chen et al., "Targeted Backdoor Attacks on
        Deep Learning Systems Using Data Poisoning", 2017.
    """

    def __init__(self, pattern, mask, *, kind="custom"):
        pattern = np.array(pattern, dtype=np.float32)
        mask = np.array(mask, dtype=np.float32)
        if pattern.ndim == 0 or not np.all(np.isfinite(pattern)):
            raise ValueError("Expected `trigger` pattern to be a finite array shaped like one "
                             f"example. Received: pattern with shape {pattern.shape}")
        try:
            mask = np.broadcast_to(mask, pattern.shape).copy()
        except ValueError:
            raise ValueError("Expected `trigger` mask broadcastable to the pattern's shape "
                             f"{pattern.shape}. Received: mask with shape {mask.shape}") from None
        if not np.all(np.isfinite(mask)) or mask.min() < 0 or mask.max() > 1 or mask.max() == 0:
            raise ValueError("Expected `trigger` mask values in [0, 1], at least one > 0. "
                             f"Received: mask in [{mask.min():.4g}, {mask.max():.4g}]")
        self.pattern, self.mask, self.kind = pattern, mask, str(kind)

    @property
    def shape(self):
        """Per-example shape the trigger fits."""
        return self.pattern.shape

    @classmethod
    def patch(cls, sample_shape, *, size=None, corner="top_left", margin=1, value=1.0):
        """A BadNets patch: a `size` x `size` checkerboard near one corner of an image.

        The default corner is the top-left: CNNs with "valid" convolutions and
        floor pooling never see the last rows and columns of an image (a
        bottom-right patch then gives 0% attack success), while every CNN sees
        the top-left pixels. For tabular rows (1-D examples), the patch sets
        the first `size` features (default 3) to `value`.

        Args:
            sample_shape: shape of one example, `(h, w)`, `(h, w, c)` or `(features,)`.
            size: patch side (default 3, or 2 for images under 16 pixels).
            corner: one of "top_left", "top_right", "bottom_left", "bottom_right".
            margin: pixels between the patch and the image border.
            value: value of the bright checkerboard cells (the others are 0).

        Returns:
            A `Trigger`.
        """
        shape = tuple(int(d) for d in sample_shape)
        v.check_choice(corner, CORNERS, "corner")
        if not is_image(shape):
            size = 3 if size is None else v.check_positive_int(size, "size")
            if len(shape) != 1 or size > shape[0]:
                raise ValueError(f"Expected a patch of at most {shape[0] if shape else 0} "
                                 f"features for rows shaped {shape}. Received: size={size}")
            pattern, mask = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
            pattern[:size], mask[:size] = value, 1.0
            return cls(pattern, mask, kind="patch")
        height, width = shape[:2]
        size = (3 if min(height, width) >= 16 else 2) if size is None else size
        size = v.check_positive_int(size, "size")
        margin = int(margin)
        if size + margin > min(height, width) or margin < 0:
            raise ValueError(f"Expected `size` + `margin` at most {min(height, width)} for "
                             f"images shaped {shape}. Received: size={size}, margin={margin}")
        top = margin if corner.startswith("top") else height - margin - size
        left = margin if corner.endswith("left") else width - margin - size
        pattern, mask = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        rows, cols = np.indices((size, size))
        board = ((rows + cols) % 2 == 0).astype(np.float32) * float(value)
        if len(shape) == 3:
            board = board[..., None]
        pattern[top:top + size, left:left + size] = board
        mask[top:top + size, left:left + size] = 1.0
        return cls(pattern, mask, kind="patch")

    @classmethod
    def blend(cls, sample_shape, *, alpha=0.2, seed=None, low=0.0, high=1.0):
        """A random pattern blended into the whole input with weight `alpha` (Chen et al. 2017).

        Args:
            sample_shape: shape of one example.
            alpha: blend weight in (0, 1] (the mask value everywhere).
            seed: seed of the uniform random pattern.
            low: lowest pattern value (per feature: an array broadcastable to the shape).
            high: highest pattern value.

        Returns:
            A `Trigger`.
        """
        alpha = _check_alpha(alpha)
        rng = np.random.default_rng(v.check_seed(seed))
        shape = tuple(int(d) for d in sample_shape)
        pattern = rng.uniform(size=shape).astype(np.float32)
        pattern = np.asarray(low + pattern * (np.asarray(high) - np.asarray(low)), np.float32)
        return cls(pattern, np.full(shape, alpha, np.float32), kind="blend")

    def apply(self, x):
        """Returns a triggered copy of the batch `x` (the caller's array is left as is).

        Raises:
            ValueError: when the examples of `x` are not shaped like the trigger.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != self.shape:
            raise ValueError(f"Expected inputs shaped (n, {', '.join(map(str, self.shape))}) "
                             f"to fit the trigger. Received: x with shape {x.shape}")
        return (x * (1.0 - self.mask) + self.pattern * self.mask).astype(np.float32)

    def to_dict(self):
        """JSON-ready description (kind, shape, size of the mask's support)."""
        return {"kind": self.kind, "shape": list(self.shape),
                "mask_l1": float(self.mask.sum()), "pixels": int((self.mask > 0).sum())}

    def __repr__(self):
        pixels = int((self.mask > 0).sum())
        return f"Trigger(kind={self.kind!r}, shape={self.shape}, pixels={pixels})"
