"""Model extraction end to end: steal a digits classifier through its predictions, attack it
through the stolen copy, then serve it behind the defenses and watch them stop a thief.

Runs in about a minute on a CPU: python examples/model_extraction.py
"""

import os
import tempfile

import keras
import numpy as np

from keras_mlsec.attacks import extract_linear, extract_model, transfer_attack
from keras_mlsec.datasets import load_breast_cancer, load_digits, reference_model
from keras_mlsec.defenses import ExtractionAlert, GuardedModel, OutputHardening, QueryMonitor

(x_train, y_train), (x_test, y_test) = load_digits(image_size=8)
victim = reference_model("mlp", x_train.shape[1:], 10, output="softmax", seed=0)
victim.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)
print(f"victim accuracy: {victim.evaluate(x_test, y_test, verbose=0)[1]:.3f}")

# 1. Steal it with 500 queries from unlabelled natural inputs (the training split stands in
#    for data the attacker owns); the victim only ever answers probabilities.
result = extract_model(victim, query_budget=500, x_pool=x_train, strategy="knockoff",
                       epochs=15, seed=0)
report = result.report(x_test, y_test)
print(f"knockoff: {result.queries_used} queries, agreement {report.agreement:.3f}, "
      f"substitute accuracy {report.substitute_accuracy:.3f}")
print(report.to_markdown())
report.plot(os.path.join(tempfile.gettempdir(), "extraction_curve.png"))

# 2. A linear model falls to equation solving: d + 1 queries give its exact weights.
(xb, yb), _ = load_breast_cancer(standardize=False)
logistic = keras.Sequential([keras.Input((30,)), keras.layers.Dense(1, activation="sigmoid")])
logistic.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
logistic.fit(xb, yb, epochs=30, verbose=0)
linear = extract_linear(logistic, 30)
error = np.abs(linear.weights - logistic.layers[-1].get_weights()[0]).max()
print(f"extract_linear: {linear.queries_used} queries, max weight error {error:.1e}")

# 3. Black-box evasion: adversarial examples crafted on the stolen copy fool the victim.
transfer = transfer_attack(result.substitute, victim, x_test, y_test, attack="pgd", eps=0.2,
                           steps=20, seed=0)
print(f"transfer PGD eps=0.2: {transfer.success_rate:.1%} of the victim's correct answers "
      "flipped")

# 4. Defend: label-only answers saved with the model, a per-client budget and PRADA.
served = keras.Sequential([victim, OutputHardening("top1")])
path = os.path.join(tempfile.mkdtemp(), "served.keras")
served.save(path)
served = keras.models.load_model(path)
guard = GuardedModel(served, monitor=QueryMonitor(), query_budget=1500)
for start in range(0, 200, 20):  # an honest client sends natural digits
    guard(x_test[start:start + 20], client_id="honest")
try:
    extract_model(lambda x: guard(x, client_id="thief"), query_budget=2000, x_pool=x_train[:50],
                  strategy="jacobian", output="labels", epochs=5, batch_size=20, seed=0)
    print("thief not stopped")
except ExtractionAlert as alert:  # by PRADA ("monitor") or by the budget ("query_budget")
    w = guard.monitor.statistic("thief")
    print(f"thief stopped after {alert.queries} queries ({alert.reason}; PRADA W={w:.3f}, "
          f"alert threshold {guard.monitor.delta}); honest client flagged: "
          f"{guard.monitor.flagged('honest')}")
