"""Fairness on a biased credit data set: measure, mitigate three ways, explain.

Runs in about a minute on CPU. Prints the statistical parity difference (SPD)
and accuracy of a plain model and of reweighing, adversarial debiasing and
equalized-odds post-processing, then the most influential features.
"""

import keras
import numpy as np

from keras_mlsec.callbacks import FairnessMonitor
from keras_mlsec.datasets import CREDIT_FEATURES, load_credit
from keras_mlsec.responsible import (AdversarialDebiasingModel, FairPostprocessor,
                                     dataset_bias, explain, fairness_report, reweighing)


def classifier(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((len(CREDIT_FEATURES),))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def trained(model, x, y, **fit_args):
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x, y, epochs=8, batch_size=32, verbose=0, **fit_args)
    return model


def main():
    (x, y), (x_test, y_test) = load_credit(bias=0.5, num_examples=3000, seed=0)
    labels = dataset_bias(x, y, protected=0)
    print(f"labels: disparate impact {labels['disparate_impact']:.3f}, "
          f"SPD {labels['statistical_parity_difference']:+.3f}")

    monitor = FairnessMonitor(x_test, y_test, protected=0)
    plain = trained(classifier(), x, y, callbacks=[monitor])
    print(f"FairnessMonitor logged val_disparate_impact "
          f"{plain.history.history['val_disparate_impact'][-1]:.3f} at the last epoch")
    models = {
        "plain": plain,
        "reweighing": trained(classifier(), x, y, sample_weight=reweighing(x, y, protected=0)),
        "adversarial": trained(AdversarialDebiasingModel(
            classifier(), protected=0, adversary_weight=1.0, adversary_learning_rate=1e-2), x, y),
    }
    models["eq-odds post"] = FairPostprocessor(plain, seed=0).fit(x, y, protected=0)
    print(f"{'method':<14} {'SPD':>7} {'DI':>6} {'accuracy':>8} passed")
    for name, model in models.items():
        report = fairness_report(model, x_test, y_test, protected=0)
        print(f"{name:<14} {report.statistical_parity_difference:+7.3f} "
              f"{report.disparate_impact:6.3f} {report.accuracy:8.3f} {report.passed}")
    fairness_report(plain, x_test, y_test, protected=0).plot("fairness_plain.png")

    explanation = explain(plain, x_test[:40], background=x[:100], nsamples=100,
                          feature_names=list(CREDIT_FEATURES))
    top = ", ".join(f"{name} ({value:.3f})" for name, value in explanation.top_features(3))
    print(f"top features of the plain model: {top}")
    explanation.plot("shap_plain.png")
    print(f"group column share of mean |SHAP|: "
          f"{explanation.importance()[0] / np.sum(explanation.importance()):.1%}")


if __name__ == "__main__":
    main()
