"""`detect_poison`: Spectral Signatures and Activation Clustering on any layer of any model."""

import numbers

import numpy as np

from keras_mlsec._core import activations as acts
from keras_mlsec._core import models
from keras_mlsec._core import validation as v
from keras_mlsec.defenses.detection import _poison_math as pm
from keras_mlsec.defenses.detection.poison_report import PoisonReport

METHODS = ("spectral", "activation_clustering")
VERIFY = ("knn", None)
MIN_CLASS_SIZE = 10


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"Expected `{name}` in (0, 1]. Received: {name}={value!r}")
    return float(value)


def _split_class(method, features, dims, seed):
    """(smaller-cluster mask, per-example score) of one class's activations."""
    if method == "spectral":
        projection = pm.top_direction(features)
        squared = projection ** 2
        group = pm.refine_1d(projection, pm.split_1d(projection))
        return group, squared / (squared.mean() + 1e-12)
    reduced = pm.reduce_dims(features, dims)
    return pm.split_kmeans(reduced, seed)


def detect_poison(model, x, y, *, method="spectral", layer=None, dims=10, verify="knn", k=10,
                  relabel_threshold=0.5, max_cluster_fraction=0.5, batch_size=256, seed=0):
    """Finds poisoned training examples from the model's internal representations.

    For every class, the activations of `layer` (default: the input of the
    classifier head, the penultimate representation) of the examples
    labelled with that class are split in two:

    * "spectral" (Tran et al. 2018): projected on their top singular vector
      after centring; an example's score is its squared projection divided
      by the class mean (Tran's outlier score), the split is Otsu's best
      two-group split of the projections, refined by EM on a two-Gaussian
      mixture (so the cut moves away from the tighter group).
    * "activation_clustering" (Chen et al. 2018): reduced to `dims`
      principal components and split by 2-means; an example's score is
      `(d_large - d_small) / (d_large + d_small)` from its distances to the
      two centroids.

    The smaller group is the candidate poison of the class. With
    `verify="knn"` it is kept only when Chen et al.'s exclusionary
    reclassification agrees: here, rather than retraining a model without
    the group, the `k` nearest training examples outside the group (in input
    space) vote on each member's label, and the group is poison when at least
    `relabel_threshold` of its members get another class than their label
    (mislabelled poison looks like its source class; a natural sub-style of
    a class does not). `verify=None` keeps every candidate group no larger
    than `max_cluster_fraction` of its class (the classic, label-free rule;
    it flags a sub-style in every clean class). Clean-label poison has
    correct labels, so the k-NN check does not confirm it: use `verify=None`
    against clean-label attacks.

    Args:
        model: the `keras.Model` trained on the (suspect) data; Sequential,
            functional or subclassed.
        x: the training inputs (not modified).
        y: their labels as trained on, sparse or one-hot.
        method: "spectral" or "activation_clustering".
        layer: name of the layer whose outputs are analysed; None for the
            penultimate representation.
        dims: principal components kept by activation clustering.
        verify: "knn" (default) or None, see above.
        k: neighbours of the k-NN vote.
        relabel_threshold: share of a group's members voted into another
            class for the group to count as poison, in (0, 1].
        max_cluster_fraction: largest share of its class a flagged group
            may have, in (0, 1] (0.5: poison is a minority of its label).
        batch_size: batch size of the forward passes.
        seed: seed of k-means.

    Returns:
        A `PoisonReport` (`suspected_indices`, `scores`, per-class details,
        `evaluate(poison_indices)`).

    Raises:
        ValueError: for an unknown `method` or `verify`, a `layer` the model
            lacks, labels that do not fit the model, or bad inputs.
        TypeError: when `model` is not a `keras.Model`.

    Example:
        >>> report = detect_poison(model, data.x, data.y, method="activation_clustering")
        >>> report.evaluate(data.poison_indices)["f1"]

    Reference:
        Tran, Li and Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS
        2018. Chen et al., "Detecting Backdoor Attacks on Deep Neural Networks
        by Activation Clustering", 2018.
    """
    model = v.check_model(model)
    v.check_choice(method, METHODS, "method")
    v.check_choice(verify, VERIFY, "verify")
    dims = v.check_positive_int(dims, "dims")
    k = v.check_positive_int(k, "k")
    relabel_threshold = _check_fraction(relabel_threshold, "relabel_threshold")
    max_cluster_fraction = _check_fraction(max_cluster_fraction, "max_cluster_fraction")
    x = v.check_inputs(x, model=model)
    num_classes = models.num_classes_of(model, models.logits_function(model), x)
    y = v.check_labels(y, len(x), num_classes)
    features = acts.layer_activations(model, x, layer, batch_size=batch_size)
    scores = np.zeros(len(x), np.float64)
    suspects, details = [], {}
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < MIN_CLASS_SIZE:
            details[int(c)] = {"size": int(len(members)), "skipped": True}
            continue
        group, class_scores = _split_class(method, features[members], dims, seed)
        scores[members] = class_scores
        fraction = float(group.mean())
        detail = {"size": int(len(members)), "cluster_size": int(group.sum()),
                  "cluster_fraction": fraction}
        flagged = fraction <= max_cluster_fraction
        if verify == "knn":
            outside = np.ones(len(x), bool)
            outside[members[group]] = False
            votes = pm.knn_labels(x[members[group]], x[outside], y[outside], k)
            detail["relabel_fraction"] = float(np.mean(votes != c))
            flagged = flagged and detail["relabel_fraction"] >= relabel_threshold
        detail["flagged"] = bool(flagged)
        details[int(c)] = detail
        if flagged:
            suspects.append(members[group])
    suspected = np.sort(np.concatenate(suspects)) if suspects else np.zeros(0, np.int64)
    if layer is None:
        layer_name = f"input of {acts.penultimate_layer(models.inner_model(model)).name}"
    else:
        layer_name = layer if isinstance(layer, str) else layer.name
    config = {"dims": dims, "verify": verify, "k": k, "relabel_threshold": relabel_threshold,
              "max_cluster_fraction": max_cluster_fraction, "seed": seed}
    return PoisonReport(suspected, scores, y, method=method, layer=layer_name,
                        class_details=details, config=config)
