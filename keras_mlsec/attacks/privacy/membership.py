"""Membership inference: does a trained model reveal which examples it was trained on?

`membership_inference(model, members=(x, y), non_members=(x, y), method=...)`
scores every example (higher = more likely a training member) and returns a
`MembershipReport` (AUC, attacker advantage, TPR at low FPR, ROC).

Methods:
    "threshold": confidence on the true class, p_y (Yeom et al. 2018).
    "loss": negative cross-entropy, log p_y (Yeom et al. 2018); it ranks
        examples exactly as "threshold" does (same AUC), and is kept as the
        name most papers use.
    "entropy": negative modified entropy (Song and Mittal 2021), label-aware.
    "shadow": Shokri et al. 2017. Shadow models cloned from the target
        architecture are trained on random halves of `shadow_data`; a
        classifier (scikit-learn MLP on sorted log-probabilities, log p_y and
        the logit-scaled confidence) learns in/out from them and scores the
        target's examples.
    "lira": Likelihood Ratio Attack (Carlini et al. 2022). Shadow models are
        trained on random halves of a pool made of the members, the
        non-members and `shadow_data` (if given), each example IN exactly
        half the shadows. "online" compares the target's logit-scaled
        confidence phi with Gaussians fitted to the IN and OUT shadows;
        `online=False` (offline) uses only the OUT Gaussian (one-sided test).
"""

import warnings

import numpy as np

from keras_mlsec._core import validation as v
from keras_mlsec._core import models
from keras_mlsec._core import membership_scores as s
from keras_mlsec._core.models import num_classes_of
from keras_mlsec.attacks.privacy.membership_report import MembershipReport

METHODS = ("threshold", "loss", "entropy", "shadow", "lira")
SCORERS_BY_LOGITS = ("threshold", "loss", "entropy")


def _check_method(method):
    key = method.lower() if isinstance(method, str) else None
    if key not in METHODS:
        raise ValueError(f"Expected `method` in {list(METHODS)}. Received: method={method!r}")
    return key


def membership_inference(model, members, non_members, *, method="threshold", shadow_data=None,
                         num_shadow_models=4, epochs=20, batch_size=64, online=True, seed=None,
                         verbose=0):
    """Runs a membership inference attack on `model` and reports how well it works.

    Args:
        model: the target, a trained single-output `keras.Model` (logits or softmax).
        members: `(x, y)` examples the model was trained on.
        non_members: `(x, y)` examples from the same distribution it never saw.
        method: "threshold", "loss", "entropy", "shadow" or "lira" (see the module doc).
        shadow_data: `(x, y)` pool for the shadow models, disjoint from the
            target's training data. Required by "shadow"; optional extra pool
            for "lira".
        num_shadow_models: shadow models to train ("shadow": >= 1; "lira":
            >= 2 online, >= 3 offline).
        epochs: training epochs of each shadow model (match the target's training).
        batch_size: batch size for predictions and shadow training.
        online: for "lira", use IN and OUT shadows (True) or only OUT shadows.
        seed: seed of the shadow data splits and attack classifier.
        verbose: 1 prints progress of the shadow training.

    Returns:
        A `MembershipReport`.

    Raises:
        TypeError: when `model` is not a `keras.Model` or inputs are not numeric.
        ValueError: for a bad `method`, empty sets, mismatched lengths,
            missing `shadow_data`, or too few shadow models.

    Example:
        >>> report = membership_inference(model, (x_train, y_train), (x_test, y_test),
        ...                               method="loss")
        >>> print(report.auc, report.tpr_at_fpr[0.01])
        >>> report.plot("membership_roc.png")

    Reference:
        Shokri et al. 2017, "Membership Inference Attacks Against Machine Learning Models".
        Yeom et al. 2018, "Privacy Risk in Machine Learning: Analyzing the Connection to
        Overfitting". Song and Mittal 2021, "Systematic Evaluation of Privacy Risks of
        Machine Learning Models". Carlini et al. 2022, "Membership Inference Attacks From
        First Principles".
    """
    model = v.check_model(model)
    method = _check_method(method)
    batch_size = v.check_positive_int(batch_size, "batch_size")
    members = v.check_pair(members, "members", model)
    num_classes = num_classes_of(model, models.logits_function(model), members[0])
    v.check_labels(members[1], len(members[0]), num_classes, name="members[1]")
    non_members = v.check_pair(non_members, "non_members", model, num_classes)
    config = {"method": method, "batch_size": batch_size}
    if method in SCORERS_BY_LOGITS:
        scorer = s.SCORERS[method]
        scores = [scorer(s.predict_logits(model, x, batch_size), y)
                  for x, y in (members, non_members)]
    else:
        num_shadow_models = v.check_positive_int(num_shadow_models, "num_shadow_models")
        epochs = v.check_positive_int(epochs, "epochs")
        if shadow_data is not None:
            shadow_data = v.check_pair(shadow_data, "shadow_data", model, num_classes)
        config.update(num_shadow_models=num_shadow_models, epochs=epochs, seed=seed)
        options = dict(num_shadow_models=num_shadow_models, epochs=epochs,
                       batch_size=batch_size, rng=np.random.default_rng(seed), verbose=verbose)
        if method == "shadow":
            scores = shadow_attack(model, members, non_members, shadow_data, seed=seed,
                                   **options)
        else:
            config["online"] = bool(online)
            scores = lira_attack(model, members, non_members, shadow_data, online=bool(online),
                                 **options)
    return MembershipReport(member_scores=scores[0], non_member_scores=scores[1],
                            method=method if method != "lira" or online else "lira-offline",
                            config=config)



def shadow_attack(model, members, non_members, shadow_data, *, num_shadow_models, epochs,
                  batch_size, rng, seed=None, verbose=0):
    """Shokri et al. 2017 shadow-model attack; returns (member_scores, non_member_scores)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if shadow_data is None:
        raise ValueError(
            "Expected `shadow_data=(x, y)` for method='shadow': a pool from the target's "
            "distribution, disjoint from its training data. Received: shadow_data=None")
    x_pool, y_pool = shadow_data
    if len(x_pool) < 4:
        raise ValueError(f"Expected `shadow_data` with at least 4 examples to split into "
                         f"shadow in/out halves. Received: {len(x_pool)} examples")
    features, labels = [], []
    for k in range(num_shadow_models):
        order = rng.permutation(len(x_pool))
        half = len(order) // 2
        inside, outside = order[:half], order[half:2 * half]
        if verbose:
            print(f"shadow model {k + 1}/{num_shadow_models}: training on {half} examples")
        shadow = s.train_shadow(model, x_pool[inside], y_pool[inside], epochs=epochs,
                                batch_size=batch_size)
        for index, label in ((inside, 1), (outside, 0)):
            logits = s.predict_logits(shadow, x_pool[index], batch_size)
            features.append(s.attack_features(logits, y_pool[index]))
            labels.append(np.full(len(index), label))
    classifier = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(64,), max_iter=500, random_state=seed))
    with warnings.catch_warnings():  # a not-quite-converged attack MLP is still a fine scorer
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(np.concatenate(features), np.concatenate(labels))
    return [classifier.predict_proba(
        s.attack_features(s.predict_logits(model, x, batch_size), y))[:, 1]
        for x, y in (members, non_members)]


def lira_attack(model, members, non_members, shadow_data, *, num_shadow_models, epochs,
                batch_size, rng, online=True, verbose=0):
    """Carlini et al. 2022 LiRA; returns (member_scores, non_member_scores)."""
    minimum = 2 if online else 3
    if num_shadow_models < minimum:
        mode = "online (each example needs >= 1 IN and >= 1 OUT shadow)" if online else \
            "offline (each example needs >= 2 OUT shadows)"
        raise ValueError(
            f"Expected `num_shadow_models` >= {minimum} for LiRA {mode}; more (16-64) "
            f"give far better estimates. Received: num_shadow_models={num_shadow_models}. "
            "Pass a larger num_shadow_models.")
    parts = [members, non_members] + ([shadow_data] if shadow_data is not None else [])
    x_pool = np.concatenate([p[0] for p in parts])
    y_pool = np.concatenate([p[1] for p in parts])
    num_targets = len(members[0]) + len(non_members[0])
    # Each example is IN exactly num_shadow_models // 2 shadows (Carlini et al.'s split).
    ranks = rng.random((num_shadow_models, len(x_pool))).argsort(0).argsort(0)
    in_mask = ranks < num_shadow_models // 2
    phi_shadow = np.empty((num_shadow_models, num_targets))
    for k in range(num_shadow_models):
        if verbose:
            print(f"LiRA shadow model {k + 1}/{num_shadow_models}: "
                  f"training on {int(in_mask[k].sum())} examples")
        shadow = s.train_shadow(model, x_pool[in_mask[k]], y_pool[in_mask[k]], epochs=epochs,
                                batch_size=batch_size)
        logits = s.predict_logits(shadow, x_pool[:num_targets], batch_size)
        phi_shadow[k] = s.logit_confidence(logits, y_pool[:num_targets])
    phi = s.logit_confidence(s.predict_logits(model, x_pool[:num_targets], batch_size),
                             y_pool[:num_targets])
    scores = s.lira_scores(phi, phi_shadow, in_mask[:, :num_targets], online=online)
    return [scores[:len(members[0])], scores[len(members[0]):]]
