"""`InversionResult`: what `model_inversion` reconstructs, and how close it is to the class."""

import numpy as np


class InversionResult:
    """A class representative reconstructed from a model, with its similarity scores.

    Similarities are Pearson correlations between the reconstruction and the
    mean of real examples (flattened pixels): 1 is the same picture up to
    brightness and contrast, 0 unrelated.

    Attributes:
        image: the reconstruction, shaped like one model input (no batch axis).
        target_class: the class inverted.
        confidence: the model's softmax probability of `target_class` on `image`.
        predicted_class: the model's top class on `image`.
        similarity: correlation with the mean of the target class's real
            examples; None without `reference`.
        class_similarities: correlation with every class mean (index = class);
            None without labelled reference examples.
        rank: 1 when the target class mean is the closest class mean (highest
            correlation), k when k - 1 other class means are closer; None
            without labelled reference examples.
        loss: the final objective (cross-entropy plus regularization).
    """

    def __init__(self, *, image, target_class, confidence, predicted_class, loss,
                 similarity=None, class_similarities=None):
        self.image = np.asarray(image)
        self.target_class = int(target_class)
        self.confidence = float(confidence)
        self.predicted_class = int(predicted_class)
        self.loss = float(loss)
        self.similarity = None if similarity is None else float(similarity)
        self.class_similarities = (None if class_similarities is None
                                   else np.asarray(class_similarities, dtype=np.float64))
        self.rank = None
        if self.class_similarities is not None:
            own = self.class_similarities[self.target_class]
            self.rank = 1 + int(np.sum(self.class_similarities > own))

    @property
    def succeeded(self):
        """Whether the model classifies the reconstruction as the target class."""
        return self.predicted_class == self.target_class

    def to_dict(self):
        """The scores as a JSON-ready dict (without the image)."""
        return {"target_class": self.target_class, "confidence": self.confidence,
                "predicted_class": self.predicted_class, "loss": self.loss,
                "similarity": self.similarity, "rank": self.rank,
                "class_similarities": (None if self.class_similarities is None
                                       else self.class_similarities.tolist())}

    def __repr__(self):
        parts = [f"target_class={self.target_class}", f"confidence={self.confidence:.3f}"]
        if self.similarity is not None:
            parts.append(f"similarity={self.similarity:.3f}")
        if self.rank is not None:
            parts.append(f"rank={self.rank}")
        return f"InversionResult({', '.join(parts)})"
