"""Labels of a victim or a substitute on evaluation inputs (outside the query budget)."""

import numpy as np

from keras_mlsec._core.models import logits_function, predict_labels
from keras_mlsec.attacks.extraction._oracle import to_probabilities, victim_predictor


def victim_labels(predict, x, batch_size=512):
    """Arg-max labels from `predict = victim_predictor(victim)` (or the labels it answers)."""
    parts = []
    for start in range(0, len(x), batch_size):
        answer = np.asarray(predict(x[start:start + batch_size]))
        if answer.ndim == 2 and answer.shape[1] == 1 and np.issubdtype(answer.dtype, np.integer):
            answer = answer[:, 0]
        parts.append(answer.astype(np.int32) if answer.ndim == 1
                     else np.argmax(to_probabilities(answer), 1).astype(np.int32))
    return np.concatenate(parts)


def substitute_labels(substitute, x, batch_size=512):
    """Arg-max labels of a Keras substitute or a fitted scikit-learn classifier."""
    import keras

    if isinstance(substitute, keras.Model) and substitute.output_shape[-1] == 1:
        return victim_labels(victim_predictor(substitute), x, batch_size)  # one sigmoid
    if isinstance(substitute, keras.Model):
        return predict_labels(logits_function(substitute), np.asarray(x, np.float32), batch_size)
    return np.asarray(substitute.predict(x.reshape(len(x), -1))).astype(np.int32)
