"""Federated learning on Flower: robust aggregation, backdoors, DP-FedAvg, client cost.

Digits (8x8, the 1,347-image training split) over 5 clients, IID and
Dirichlet(0.5). Every federated run uses our `client_app` and `server_app`
(Flower's strategies) through `simulate(..., backend="inprocess")`: the same
ServerApp and ClientApp objects, with messages delivered in this process
instead of through Ray actors (Ray on 2 shared cores costs ~50 s per round
here). `--ray` adds the same app through Flower's Ray simulation engine and
`--deployment` through a SuperLink and 3 SuperNodes on 127.0.0.1, for the
"same final accuracy" check.

    python benchmarks/bench_federated.py [--rounds 20] [--sections ...] [--ray] [--deployment]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import environment  # noqa: E402

NUM_CLIENTS = 5
DELTA = 1e-3  # user-level: below 1 / NUM_CLIENTS
CLIP = 1.0


def model_fn():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(0.3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def run(parts, test, rounds, *, strategy="fedavg", attack=None, **server_kwargs):
    from keras_mlsec.federated import client_app, server_app, simulate

    clients = client_app(model_fn, lambda pid, n: parts[pid], epochs=1, batch_size=32, seed=0,
                         byzantine=attack)
    server = server_app(model_fn, strategy=strategy, num_rounds=rounds, evaluate_data=test,
                        min_clients=3, **server_kwargs)
    history = simulate(clients, server, num_clients=len(parts), backend="inprocess")
    return history, server.final_weights


def byzantine_section(splits, test, rounds):
    from keras_mlsec.federated import byzantine

    print("\n== 1 of 5 clients Byzantine (client 1); final accuracy after "
          f"{rounds} rounds (Bulyan needs 4f+3 = 7 clients: its rows follow, with 7)")
    robust = ("fedmedian", "trimmed_mean", "krum", "multikrum")
    clean = {}
    for split, parts in splits.items():
        clean[split] = run(parts, test, rounds)[0].final_accuracy
        print(f"{split:9s} clean fedavg {clean[split]:.3f}")
        for kind in ("noise", "sign_flip", "scale"):
            attack = byzantine(kind, clients=[1], seed=0)
            row = {}
            for strategy in ("fedavg", *robust):
                row[strategy] = run(parts, test, rounds, strategy=strategy, attack=attack,
                                    num_malicious=1)[0].final_accuracy
            worst = min(row[s] for s in robust)
            print(f"{split:9s} {kind:9s} " + "  ".join(f"{s} {a:.3f}" for s, a in row.items())
                  + f"  | worst robust - clean fedavg = {100 * (worst - clean[split]):+.1f} pp "
                  f"({'met' if worst >= clean[split] - 0.05 else 'MISSED'} 5 pp)")
    return clean


def bulyan_section(splits7, test, rounds):
    """Bulyan needs n >= 4f + 3: 7 clients, 1 Byzantine, against FedAvg on the same 7."""
    from keras_mlsec.federated import byzantine

    print(f"\n== Bulyan: 1 of 7 clients Byzantine (client 1); final accuracy after {rounds} "
          "rounds")
    for split, parts in splits7.items():
        clean = run(parts, test, rounds)[0].final_accuracy
        print(f"{split:9s} clean fedavg (7 clients) {clean:.3f}")
        for kind in ("noise", "sign_flip", "scale"):
            attack = byzantine(kind, clients=[1], seed=0)
            row = {strategy: run(parts, test, rounds, strategy=strategy, attack=attack,
                                 num_malicious=1)[0].final_accuracy
                   for strategy in ("fedavg", "bulyan")}
            print(f"{split:9s} {kind:9s} " + "  ".join(f"{s} {a:.3f}" for s, a in row.items())
                  + f"  | bulyan - clean fedavg = {100 * (row['bulyan'] - clean):+.1f} pp "
                  f"({'met' if row['bulyan'] >= clean - 0.05 else 'MISSED'} 5 pp)")


def backdoor_section(parts, test, rounds, clean_accuracy):
    import numpy as np

    from keras_mlsec.federated import DPFedAvg, byzantine
    from keras_mlsec.federated._updates import update_norm

    x_test, y_test = test
    attack = byzantine("model_replacement", clients=[0], target=0, trigger_size=2,
                       scale=float(NUM_CLIENTS), poison_fraction=0.5, seed=0)
    keep = y_test != 0
    triggered = attack.apply_trigger(x_test[keep])

    def success(weights):
        model = model_fn()
        model.set_weights(weights)
        return float(np.mean(np.argmax(model.predict(triggered, verbose=0), -1) == 0))

    # The norm bound: the largest honest update norm of round 1, measured on clean clients.
    start = model_fn().get_weights()
    norms = []
    for pid in range(1, NUM_CLIENTS):
        model = model_fn()
        model.fit(*parts[pid], epochs=1, batch_size=32, verbose=0)
        norms.append(update_norm(model.get_weights(), start))
    bound = max(norms)
    print(f"\n== model replacement backdoor (client 0, boost {NUM_CLIENTS}, 2x2 trigger, "
          f"target 0), IID, {rounds} rounds; norm bound {bound:.3f} = largest honest "
          "round-1 update norm")
    # The defense as specified (bound = largest honest norm), then a tighter bound and
    # norm bounding plus weak DP noise (Sun et al. 2019), to show how far the defense goes.
    variants = (
        ("fedavg", {}),
        ("norm_bounded", {"strategy": "norm_bounded", "norm_bound": bound}),
        ("norm_bounded bound/2", {"strategy": "norm_bounded", "norm_bound": bound / 2}),
        *((f"bound + weak DP sigma {sigma}",
           {"dp": DPFedAvg(noise_multiplier=sigma, clipping_norm=bound,
                           clients_per_round=NUM_CLIENTS)}) for sigma in (0.1, 0.5)))
    rows = {}
    for name, kwargs in variants:
        attacked, weights = run(parts, test, rounds, attack=attack, **kwargs)
        honest = run(parts, test, rounds, **kwargs)[0] if name != "fedavg" else None
        rows[name] = (success(weights), attacked.final_accuracy,
                      honest.final_accuracy if honest else clean_accuracy)
    for name, (asr, acc, clean) in rows.items():
        print(f"{name:28s} attack success {asr:.3f}  accuracy under attack {acc:.3f}  "
              f"clean run {clean:.3f}")
    asr, acc, _ = rows["norm_bounded"]
    lost = clean_accuracy - acc
    print(f"norm_bounded: success {100 * asr:.1f}% ({'met' if asr <= 0.10 else 'MISSED'} "
          f"<= 10%), clean accuracy lost vs clean fedavg {100 * lost:+.1f} pp "
          f"({'met' if lost <= 0.02 else 'MISSED'} <= 2 pp)")


def dp_section(parts, test, rounds, clean_accuracy):
    import dp_accounting
    from dp_accounting import pld, rdp

    from keras_mlsec.federated import DPFedAvg, federated_epsilon, noise_multiplier_for_rounds

    print(f"\n== DP-FedAvg, user level, {NUM_CLIENTS} of {NUM_CLIENTS} clients per round, "
          f"clip {CLIP}, delta {DELTA}, {rounds} rounds, IID")
    print(f"no DP      accuracy {clean_accuracy:.3f}")
    for target in (1.0, 3.0, 8.0):
        sigma = noise_multiplier_for_rounds(target, rounds=rounds, clients_per_round=NUM_CLIENTS,
                                            num_clients=NUM_CLIENTS, delta=DELTA)
        dp = DPFedAvg(noise_multiplier=sigma, clipping_norm=CLIP, clients_per_round=NUM_CLIENTS,
                      target_epsilon=target, delta=DELTA)
        history, _ = run(parts, test, rounds, dp=dp)
        ours = history.epsilons[-1]
        account = rdp.RdpAccountant()
        account.compose(dp_accounting.SelfComposedDpEvent(
            dp_accounting.GaussianDpEvent(sigma), len(history.rounds)))
        direct = account.get_epsilon(DELTA)
        tight = pld.PLDAccountant()
        tight.compose(dp_accounting.SelfComposedDpEvent(
            dp_accounting.GaussianDpEvent(sigma), len(history.rounds)))
        poisson = federated_epsilon(rounds=rounds, noise_multiplier=sigma, clients_per_round=2,
                                    num_clients=NUM_CLIENTS, delta=DELTA, sampling="poisson")
        check = rdp.RdpAccountant()
        check.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
            2 / NUM_CLIENTS, dp_accounting.GaussianDpEvent(sigma)), rounds))
        print(f"eps {target:g}: sigma {sigma:.3f}, rounds run {len(history.rounds)}, accuracy "
              f"{history.final_accuracy:.3f}; ours {ours:.6f} vs dp_accounting RDP {direct:.6f} "
              f"(rel. diff {abs(ours - direct) / direct:.1e}; PLD {tight.get_epsilon(DELTA):.3f});"
              f" Poisson q=0.4 ours {poisson:.6f} vs {check.get_epsilon(DELTA):.6f}")


def client_time_section(parts, repeats=6):
    import keras
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
    from flwr.app import MetricRecord
    from flwr.clientapp import ClientApp
    from flwr.supercore.task_identity import TaskIdentity

    from keras_mlsec.federated import client_app

    plain = ClientApp()

    @plain.train()
    def train(msg, context):  # what Flower's quickstart-tensorflow ClientApp does
        keras.backend.clear_session()
        x, y = parts[context.node_config["partition-id"]]
        model = model_fn()
        model.set_weights(msg.content["arrays"].to_numpy_ndarrays())
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        content = RecordDict({"arrays": ArrayRecord(model.get_weights()), "metrics": MetricRecord(
            {"num-examples": len(x), "train_loss": history.history["loss"][-1]})})
        return Message(content=content, reply_to=msg)

    kept = ClientApp()
    built = {}

    @kept.train()
    def train_kept(msg, context):  # the same, written to keep its model between messages
        x, y = parts[context.node_config["partition-id"]]
        if "model" not in built:
            built["model"] = model_fn()
            built["start"] = [v.numpy() for v in built["model"].optimizer.variables]
        model = built["model"]
        model.set_weights(msg.content["arrays"].to_numpy_ndarrays())
        for variable, value in zip(model.optimizer.variables, built["start"]):
            variable.assign(value)
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        content = RecordDict({"arrays": ArrayRecord(model.get_weights()), "metrics": MetricRecord(
            {"num-examples": len(x), "train_loss": history.history["loss"][-1]})})
        return Message(content=content, reply_to=msg)

    ours = client_app(model_fn, lambda pid, n: parts[pid], epochs=1, batch_size=32, seed=0)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 1
    weights = model_fn().get_weights()
    contexts = [Context(run_id=1, node_id=7, node_config={"partition-id": p, "num-partitions":
                                                          NUM_CLIENTS},
                        state=RecordDict(), run_config={}) for p in range(NUM_CLIENTS)]
    times = {"ours": [], "plain": [], "kept": []}
    for _ in range(repeats):  # round-robin: one round (5 clients) of each, alternately
        for name, app in (("ours", ours), ("plain", plain), ("kept", kept)):
            start = time.perf_counter()
            for context in contexts:
                message = Message(RecordDict({"arrays": ArrayRecord(weights),
                                              "config": ConfigRecord({"server-round": 1})}),
                                  dst_node_id=7, message_type=MessageType.TRAIN)
                app(message, context)
            times[name].append(time.perf_counter() - start)
    ours_s, plain_s, kept_s = (statistics.median(times[k][1:]) for k in ("ours", "plain", "kept"))
    print(f"\n== ClientApp round time (5 train messages, median of {repeats - 1} after warm-up)")
    for label, other in (("plain Flower ClientApp (quickstart: rebuilds the model per message)",
                          plain_s),
                         ("plain Flower ClientApp keeping its model between messages", kept_s)):
        print(f"ours {ours_s:.2f} s / {label} {other:.2f} s = {ours_s / other:.2f}x "
              f"({'met' if ours_s <= 1.1 * other else 'MISSED'} <= 1.1x)")


def transport_section(rounds, use_ray, use_deployment):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app_dir = os.path.join(repo, "examples", "federated_app")
    sys.path.insert(0, app_dir)
    import mlsec_digits

    from keras_mlsec.federated import server_app, simulate
    from keras_mlsec.federated.deployment import local_deployment
    from keras_mlsec.federated.simulation import default_backend_config

    print(f"\n== the examples/federated_app app (3 clients, {rounds} rounds): final accuracy")

    def server():
        return server_app(mlsec_digits.model_fn, num_rounds=rounds,
                          evaluate_data=mlsec_digits.TEST, max_update_norm=50.0, min_clients=3)

    # The app's model_fn draws new initial weights in each run (no seed): the spread of five
    # in-process runs is the noise the other transports are compared with.
    spread = []
    for _ in range(5):
        start = time.time()
        history = simulate(mlsec_digits.clients, server(), num_clients=3, backend="inprocess")
        spread.append(history.final_accuracy)
        print(f"inprocess  {history.final_accuracy:.3f} ({time.time() - start:.0f} s)")
    low, high = min(spread), max(spread)
    print(f"inprocess spread over 5 runs: {low:.3f}-{high:.3f}")

    def verdict(accuracy):
        return "within" if low <= accuracy <= high else "OUTSIDE"
    if use_ray:
        start = time.time()
        history = simulate(mlsec_digits.clients, server(), num_clients=3,
                           backend_config=default_backend_config(2))
        print(f"ray        {history.final_accuracy:.3f} ({time.time() - start:.0f} s); "
              f"{verdict(history.final_accuracy)} the in-process spread")
    if use_deployment:
        start = time.time()
        try:
            history = local_deployment(app_dir, num_nodes=3, num_rounds=rounds, timeout=1800)
            print(f"deployment {history.final_accuracy:.3f} ({time.time() - start:.0f} s); "
                  f"{verdict(history.final_accuracy)} the in-process spread")
        except (TimeoutError, RuntimeError) as error:
            print(f"deployment FAILED after {time.time() - start:.0f} s: {error}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sections",
                        default="byzantine,bulyan,backdoor,dp,client,transport")
    parser.add_argument("--transport-rounds", type=int, default=10)
    parser.add_argument("--splits", default="iid,dirichlet")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--deployment", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    import logging

    logging.getLogger("flwr").setLevel(logging.ERROR)
    from keras_mlsec.datasets import load_digits
    from keras_mlsec.federated import partition

    print(environment())
    (x, y), test = load_digits(seed=0)
    splits = {"iid": partition(x, y, NUM_CLIENTS, iid=True, seed=0),
              "dirichlet": partition(x, y, NUM_CLIENTS, iid=False, alpha=0.5, seed=0)}
    print("client sizes:", {k: [len(p[1]) for p in v] for k, v in splits.items()})
    sections = args.sections.split(",")
    started = time.time()
    clean = {"iid": run(splits["iid"], test, args.rounds)[0].final_accuracy}
    print(f"clean fedavg (iid) {clean['iid']:.3f}")
    if "client" in sections:
        client_time_section(splits["iid"])
    if "dp" in sections:
        dp_section(splits["iid"], test, args.rounds, clean["iid"])
    if "backdoor" in sections:
        backdoor_section(splits["iid"], test, args.rounds, clean["iid"])
    if "byzantine" in sections:
        byzantine_section({k: splits[k] for k in args.splits.split(",")}, test, args.rounds)
    if "bulyan" in sections:
        splits7 = {"iid": partition(x, y, 7, iid=True, seed=0),
                   "dirichlet": partition(x, y, 7, iid=False, alpha=0.5, seed=0)}
        bulyan_section({k: splits7[k] for k in args.splits.split(",")}, test, args.rounds)
    if "transport" in sections:
        transport_section(args.transport_rounds, args.ray, args.deployment)
    print(f"\ntotal {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
