"""Data poisoning in five points: two mislabeled examples move a decision boundary.

Three clean training points (two of class 0 on the left, one of class 1 on
the right) give a boundary in between. An attacker adds two points from the
right-hand side labelled class 0 (`keras_mlsec.attacks.label_flip` does the
mislabelling); retrained on the five points, the model moves its boundary to
the right, and a test point that was class 1 is now classified class 0.
Writes poisoning_boundary.png in the current directory. Runs in seconds.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_mlsec.attacks import label_flip  # noqa: E402


def train(x, y, seed=0):
    """Logistic regression (a single sigmoid unit, light L2), full batch."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(
        1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(0.01))])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
    # 300 full-batch steps in one epoch (far less per-epoch overhead than epochs=300).
    steps = tf.data.Dataset.from_tensors((x, y.astype(np.float32))).repeat(300)
    model.fit(steps, epochs=1, verbose=0, shuffle=False)
    return model


def boundary_x(model, x2=0.0):
    """Where the boundary w . x + b = 0 crosses the horizontal line at height x2."""
    (w1, w2), b = model.layers[-1].kernel.numpy()[:, 0], model.layers[-1].bias.numpy()[0]
    return float(-(b + w2 * x2) / w1)


def plot(x, y, poison, models, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    grid = np.linspace(-2.5, 2.5, 2)
    for (name, model), style in zip(models.items(), ("--", "-")):
        (w1, w2), b = model.layers[-1].kernel.numpy()[:, 0], model.layers[-1].bias.numpy()[0]
        ax.plot(-(b + w2 * grid) / w1, grid, style, color="black", label=f"{name} boundary")
    colors = np.where(y == 0, "tab:blue", "tab:orange")
    ax.scatter(x[~poison, 0], x[~poison, 1], c=colors[~poison], s=80,
               label="clean (blue 0, orange 1)")
    ax.scatter(x[poison, 0], x[poison, 1], c=colors[poison], s=120, marker="X",
               edgecolors="red", label="poison (labelled 0)")
    ax.scatter([1.2], [0.0], marker="*", s=150, color="green", label="test point (class 1)")
    ax.set_xlim(-2.5, 2.5), ax.set_ylim(-2.5, 2.5), ax.legend(fontsize=7, loc="lower left")
    ax.set_title("Two mislabeled points move the boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    x_clean = np.array([[-2.0, 0.0], [-1.0, 1.0], [2.0, 0.0]], np.float32)
    y_clean = np.array([0, 0, 1])
    # Two points from class 1's side; label_flip relabels both (rate 1.0) as class 0.
    extra = label_flip(np.array([[1.0, 0.5], [1.5, -0.5]], np.float32), np.array([1, 1]),
                       rate=1.0, target=0, num_classes=2, seed=0)
    x = np.concatenate([x_clean, extra.x])
    y = np.concatenate([y_clean, extra.y])
    poison = np.arange(len(x)) >= len(x_clean)
    print(f"training set: 3 clean points + {len(extra.poison_indices)} mislabeled "
          f"(labels {extra.y.tolist()}, true class 1)")
    clean_model, poisoned_model = train(x_clean, y_clean), train(x, y)
    test_point = np.array([[1.2, 0.0]], np.float32)
    before, after = boundary_x(clean_model), boundary_x(poisoned_model)
    print(f"boundary crosses x2=0 at x1={before:.2f} (clean) and x1={after:.2f} (poisoned): "
          f"moved by {after - before:+.2f}")
    for name, model in (("clean", clean_model), ("poisoned", poisoned_model)):
        p = float(model.predict(test_point, verbose=0)[0, 0])
        print(f"{name:8s} model: test point (1.2, 0) -> class {int(p > 0.5)} (p1={p:.2f})")
    plot(x, y, poison, {"clean": clean_model, "poisoned": poisoned_model},
         "poisoning_boundary.png")
    print("plot written to poisoning_boundary.png")


if __name__ == "__main__":
    main()
