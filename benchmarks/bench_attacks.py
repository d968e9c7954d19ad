"""Claim: our PGD is as fast as the fastest hand-written TensorFlow PGD.

PGD-40, L-inf, eps 0.3, step 0.01, random start, on 1,000 28x28 digits with
the reference CNN (one batch of 1,000), all in this one process:
  * hand-written: Python loop over a `tf.function` step; one `tf.function`
    with a `tf.range` loop; Python loop over an XLA (`jit_compile=True`) step;
  * CleverHans 4.0.0 `projected_gradient_descent` called eagerly;
  * ART 1.20.1 `ProjectedGradientDescent` with `TensorFlowV2Classifier`;
  * ours: `keras_mlsec.attacks.pgd`.
Each is warmed up once (tracing/compilation), then all are timed in turn,
round-robin, `--repeats` times (median), so load changes hit all alike.
Adversarial accuracy is printed for each, to show they do the same
work. Run: .venv/bin/python benchmarks/bench_attacks.py  (needs the bench extra
for ART: `make bench` installs it).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import art_classifier, environment, hand_written_pgd_step, timed  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_mlsec as km  # noqa: E402
from keras_mlsec.datasets import load_digits, reference_model  # noqa: E402


def hand_written(model, eps, step_size, steps):
    """The three hand-written forms, sharing one hand-written step body."""
    body = hand_written_pgd_step(model, eps, step_size)

    step = tf.function(body)
    xla_step = tf.function(body, jit_compile=True)

    @tf.function
    def whole(x, y, start):
        x_adv = start
        for _ in tf.range(steps):
            x_adv = body(x_adv, x, y)
        return x_adv

    def start_point(x):
        return tf.clip_by_value(x + tf.random.uniform(tf.shape(x), -eps, eps), 0.0, 1.0)

    def python_loop(fn):
        def run(x, y):
            x_adv = start_point(x)
            for _ in range(steps):
                x_adv = fn(x_adv, x, y)
            return x_adv
        return run

    return {
        "hand-written: Python loop over tf.function step": python_loop(step),
        "hand-written: one tf.function, tf.range loop": lambda x, y: whole(x, y, start_point(x)),
        "hand-written: Python loop over XLA step": python_loop(xla_step),
    }


def cleverhans_eager(model, eps, step_size, steps):
    from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent

    def run(x, y):
        return projected_gradient_descent(model, x, eps, step_size, steps, np.inf, clip_min=0.0,
                                          clip_max=1.0, y=y, rand_init=True,
                                          sanity_checks=False)
    return run


def art_pgd(model, eps, step_size, steps, batch_size):
    try:
        from art.attacks.evasion import ProjectedGradientDescent

        classifier = art_classifier(model, (28, 28, 1))
    except ImportError:
        return None
    attack = ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=step_size,
                                      max_iter=steps, num_random_init=1, batch_size=batch_size,
                                      verbose=False)

    def run(x, y):
        return attack.generate(x=x.numpy(), y=np.eye(10, dtype=np.float32)[y.numpy()])
    return run


def main():
    parser = argparse.ArgumentParser(description="PGD speed: ours vs hand-written, CleverHans, ART")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eps", type=float, default=0.3)
    parser.add_argument("--step-size", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--art-repeats", type=int, default=1)
    parser.add_argument("--no-xla", action="store_true", help="skip the slow XLA variant")
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = load_digits(image_size=28, seed=0)
    model = reference_model("cnn", (28, 28, 1), 10, seed=0)
    model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
    pool_x, pool_y = np.concatenate([x_test, x_train]), np.concatenate([y_test, y_train])
    x = tf.constant(pool_x[:args.n])
    y = tf.constant(pool_y[:args.n])
    eps, step, steps = args.eps, args.step_size, args.steps

    runners = hand_written(model, eps, step, steps)
    if args.no_xla:
        runners.pop("hand-written: Python loop over XLA step")
    runners["CleverHans 4.0.0 eager"] = cleverhans_eager(model, eps, step, steps)
    runners["ours: keras_mlsec.attacks.pgd"] = lambda x, y: km.attacks.pgd(
        model, x, y, eps=eps, step_size=step, steps=steps, batch_size=args.n, seed=0)
    art = art_pgd(model, eps, step, steps, args.n)
    if art is not None:
        runners["ART 1.20.1 ProjectedGradientDescent"] = art

    print(environment())
    print(f"PGD-{steps} L-inf eps={eps} step={step} on {args.n} 28x28 inputs, reference CNN; "
          f"median of {args.repeats} (ART: {args.art_repeats}) after one warm-up run")
    clean = np.mean(np.argmax(model.predict(x, verbose=0), -1) == y.numpy())
    print(f"clean accuracy {clean:.3f}")
    for run in runners.values():
        run(x, y)  # warm-up: tracing and compilation
    # Round-robin repeats, so that a change in machine load hits every form alike.
    samples, outputs = {name: [] for name in runners}, {}
    for repeat in range(args.repeats):
        for name, run in runners.items():
            if name.startswith("ART") and repeat >= args.art_repeats:
                continue
            elapsed, result = timed(lambda: run(x, y), 1)
            samples[name].append(elapsed)
            outputs[name] = np.asarray(result)
    seconds = {name: float(np.median(values)) for name, values in samples.items()}
    for name in runners:
        x_adv = outputs[name]
        acc = np.mean(np.argmax(model.predict(x_adv, verbose=0), -1) == y.numpy())
        linf = np.abs(x_adv - x.numpy()).max()
        print(f"  {name:<52} {seconds[name]:7.2f} s   adv acc {acc:.3f}  max |delta| {linf:.3f}")

    ours = seconds["ours: keras_mlsec.attacks.pgd"]
    hand = {k: v for k, v in seconds.items() if k.startswith("hand-written")}
    fastest = min(hand, key=hand.get)
    print(f"ours / fastest hand-written ({fastest}) = {ours / hand[fastest]:.2f}x (target <= 1.1x)")
    print(f"ours / CleverHans eager = {ours / seconds['CleverHans 4.0.0 eager']:.2f}x "
          "(target <= 1.0x)")
    if art is not None:
        ratio = seconds["ART 1.20.1 ProjectedGradientDescent"] / ours
        print(f"ART / ours = {ratio:.2f}x faster (target >= 3x)")


if __name__ == "__main__":
    main()
