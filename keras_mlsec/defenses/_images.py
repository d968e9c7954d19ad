"""Input-shape checks shared by the image defense layers."""


def check_image_batch(input_shape, layer_name, channels=None):
    """Checks a `(batch, height, width, channels)` shape; returns it as a tuple."""
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"Expected {layer_name} inputs to be a batch of images shaped (batch, height, "
            f"width, channels). Received: input_shape={shape}. Add a channel axis to "
            "grayscale images, e.g. x[..., None].")
    if channels is not None and shape[-1] is not None and shape[-1] not in channels:
        raise ValueError(
            f"Expected {layer_name} inputs with {' or '.join(map(str, channels))} channels. "
            f"Received: input_shape={shape}.")
    return shape
