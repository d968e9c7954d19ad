"""Model inversion on the 8x8 digits: what a classifier gives away about each class.

1. Trains the reference MLP on the digits training set.
2. `invert_classes` (batched `model_inversion`, Fredrikson et al. 2015)
   reconstructs one representative per class by gradient descent on the
   input, from the model alone.
3. Each reconstruction is scored against the real class means: its
   correlation with its own class mean, and its rank among the ten means
   (1 = closest to its own class).
4. The reconstructions and the class means are drawn into a PNG.

Run: .venv/bin/python examples/model_inversion.py [out.png]   (well under a minute on CPU)
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mlsec.attacks.privacy.inversion import invert_classes, plot_inversions  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402


def main(path="model_inversion_digits.png"):
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8)
    model = reference_model("mlp", x_train.shape[1:], 10, seed=0)
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"reference MLP test accuracy: {accuracy:.3f}")

    results = invert_classes(model, list(range(10)), steps=500, learning_rate=0.1,
                             l2_weight=1.0, reference=(x_train, y_train), seed=0)
    print("class  predicted  confidence  similarity  rank")
    for r in results:
        print(f"{r.target_class:5d}  {r.predicted_class:9d}  {r.confidence:10.3f}  "
              f"{r.similarity:10.3f}  {r.rank:4d}")
    print(f"closest to their own class mean: {sum(r.rank == 1 for r in results)}/10; "
          f"mean similarity {np.mean([r.similarity for r in results]):.3f}")
    plot_inversions(results, path, reference=(x_train, y_train),
                    title="Model inversion of a digits MLP (top) vs. class means (bottom)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
