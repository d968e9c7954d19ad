"""Claim: `import keras_mlsec` costs at most 0.5 s more than `import keras`.

Each import runs in a fresh interpreter, alternating, `--repeats` times; the
medians are compared. Also reports the cost of the attack sub-package.
Run: .venv/bin/python benchmarks/bench_import.py
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "import keras": "import keras",
    "import keras_mlsec": "import keras_mlsec",
    "import keras_mlsec.attacks": "import keras_mlsec.attacks",
    "from keras_mlsec import evaluate_robustness":
        "from keras_mlsec import evaluate_robustness",
}


def time_import(statement):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    samples = {name: [] for name in STATEMENTS}
    for _ in range(args.repeats):
        for name, statement in STATEMENTS.items():
            samples[name].append(time_import(statement))
    base = statistics.median(samples["import keras"])
    print(f"median of {args.repeats} fresh interpreters (python start included)")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<45} {median:6.2f} s   ({median - base:+.2f} s vs import keras)")
    extra = statistics.median(samples["import keras_mlsec"]) - base
    verdict = "PASS" if extra <= 0.5 else "FAIL"
    print(f"import keras_mlsec - import keras = {extra:+.2f} s (target <= 0.5 s): {verdict}")


if __name__ == "__main__":
    main()
