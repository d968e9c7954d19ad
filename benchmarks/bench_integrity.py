"""Integrity benchmarks: signing throughput, verified-load overhead, tamper corpus.

    python benchmarks/bench_integrity.py                 # 1 GB file, 100 MB model
    python benchmarks/bench_integrity.py --size-mb 128 --model-mb 20 --mutations 300

Prints, each measured in the same run against its baseline:
  1. sign_model / verify_model throughput on a file vs `sha256sum` on the same
     file (claim: >= 0.8x);
  2. load_verified_model vs plain keras.models.load_model on a model of about
     --model-mb MB (claim: <= 1.3x);
  3. a tamper corpus of --mutations random mutations of signed models (byte
     flips, truncation, appended bytes, replaced archive members, edited
     signature, wrong key): all must be detected; and --rounds legitimate
     save/sign/verify rounds: none may be rejected.
"""

import argparse
import base64
import io
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _best(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_hashing(work, keys, size_mb, repeats):
    from keras_mlsec.integrity import sign_model, verify_model

    path = work / "blob.bin"
    chunk = os.urandom(2**20)
    with open(path, "wb") as handle:
        for _ in range(size_mb):
            handle.write(chunk)
    path.read_bytes() if size_mb <= 2048 else None  # warm the page cache
    baseline = _best(lambda: subprocess.run(["sha256sum", str(path)], check=True,
                                            capture_output=True), repeats)
    signing = _best(lambda: sign_model(path, private_key=keys[0]), repeats)
    verifying = _best(lambda: verify_model(path, public_key=keys[1]), repeats)
    mb = size_mb * 2**20 / 1e6
    print(f"[hash] file {size_mb} MiB: sha256sum {mb / baseline:.0f} MB/s, "
          f"sign_model {mb / signing:.0f} MB/s, verify_model {mb / verifying:.0f} MB/s")
    print(f"[hash] sign throughput ratio vs sha256sum: {baseline / signing:.2f}x "
          f"(claim >= 0.8x); verify: {baseline / verifying:.2f}x")
    path.unlink()
    return baseline / signing


def bench_loading(work, keys, model_mb, repeats):
    import keras

    from keras_mlsec.integrity import load_verified_model, sign_model

    width = int((model_mb * 2**20 / 4 / 2) ** 0.5)
    model = keras.Sequential([keras.Input((width,)), keras.layers.Dense(width),
                              keras.layers.Dense(width), keras.layers.Dense(10)])
    path = work / "big.keras"
    model.save(path)
    sign_model(path, private_key=keys[0])
    size = path.stat().st_size / 2**20
    keras.models.load_model(path, safe_mode=True)  # warm up imports and caches
    plain, verified = [], []
    for _ in range(repeats):  # interleaved so that machine load affects both alike
        plain.append(_best(lambda: keras.models.load_model(path, safe_mode=True), 1))
        verified.append(_best(lambda: load_verified_model(path, public_key=keys[1]), 1))
    print(f"[load] model {size:.0f} MiB: load_model {min(plain):.3f} s, "
          f"load_verified_model {min(verified):.3f} s (best of {repeats})")
    print(f"[load] load_verified_model / load_model: {min(verified) / min(plain):.2f}x "
          "(claim <= 1.3x)")
    return min(verified) / min(plain)


def _small_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _mutate(kind, data, signature, rng):
    """Returns (model bytes, signature bytes) after one mutation of `kind`."""
    if kind == "flip":
        out = bytearray(data)
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out), signature
    if kind == "truncate":
        return data[:rng.randrange(0, len(data))], signature
    if kind == "append":
        return data + os.urandom(rng.randrange(1, 64)), signature
    if kind == "member":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {n: archive.read(n) for n in archive.namelist()}
        victim = rng.choice(sorted(members))
        content = bytearray(members[victim])
        content[rng.randrange(len(content))] ^= 0x20
        members[victim] = bytes(content)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, value in members.items():
                archive.writestr(name, value)
        return out.getvalue(), signature
    if kind == "signature":
        bundle = json.loads(signature)
        field = rng.choice(["payload", "sig", "hint", "json"])
        envelope = bundle["dsseEnvelope"]
        if field == "payload":
            payload = bytearray(base64.b64decode(envelope["payload"]))
            payload[rng.randrange(len(payload))] ^= 1 << rng.randrange(7)
            envelope["payload"] = base64.b64encode(bytes(payload)).decode()
        elif field == "sig":
            sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
            sig[rng.randrange(len(sig))] ^= 1 << rng.randrange(8)
            envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
        elif field == "hint":
            bundle["verificationMaterial"]["publicKey"]["hint"] = "00" * 32
        else:
            raw = json.dumps(bundle).encode()
            return data, raw[:rng.randrange(len(raw))]
        return data, json.dumps(bundle).encode()
    raise ValueError(kind)


def bench_tamper(work, keys, other_keys, mutations, rounds):
    from keras_mlsec.integrity import IntegrityError, sign_model, verify_model

    rng = random.Random(0)
    kinds = ["flip", "truncate", "append", "member", "signature", "wrong-key"]
    sources = []
    for seed in range(5):
        path = work / f"src{seed}.keras"
        _small_model(seed).save(path)
        sign_model(path, private_key=keys[0], metadata={"seed": seed})
        sources.append((path.read_bytes(), pathlib.Path(f"{path}.sig").read_bytes()))
    target = work / "victim.keras"
    target_sig = pathlib.Path(f"{target}.sig")
    counts = {kind: [0, 0] for kind in kinds}
    for index in range(mutations):
        kind = kinds[index % len(kinds)]
        data, signature = sources[rng.randrange(len(sources))]
        public_key = keys[1]
        if kind == "wrong-key":
            public_key = other_keys[1]
        else:
            new_data, new_signature = _mutate(kind, data, signature, rng)
            if (new_data, new_signature) == (data, signature):
                continue
            data, signature = new_data, new_signature
        target.write_bytes(data)
        target_sig.write_bytes(signature)
        counts[kind][1] += 1
        try:
            verify_model(target, public_key=public_key)
        except IntegrityError:
            counts[kind][0] += 1
    detected = sum(c[0] for c in counts.values())
    total = sum(c[1] for c in counts.values())
    detail = ", ".join(f"{k} {c[0]}/{c[1]}" for k, c in counts.items())
    print(f"[tamper] detected {detected}/{total} mutations ({detail})")
    x = rng.random() * 0 + 1.0
    import numpy as np

    model = _small_model(0)
    xs = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    ys = np.zeros((32, 2), "float32") + x
    rejected = 0
    for round_index in range(rounds):
        model.train_on_batch(xs, ys)
        path = work / "legit.keras"
        model.save(path)
        sign_model(path, private_key=keys[0], metadata={"round": round_index})
        try:
            if verify_model(path, public_key=keys[1]) != {"round": round_index}:
                rejected += 1
        except IntegrityError:
            rejected += 1
    print(f"[tamper] legitimate save/sign/verify rounds: {rounds}, false rejections: {rejected}")
    return detected == total and rejected == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="hashing file size (MiB)")
    parser.add_argument("--model-mb", type=int, default=100, help="model size for loading")
    parser.add_argument("--mutations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[],
                        choices=("hash", "load", "tamper"))
    args = parser.parse_args(argv)

    from keras_mlsec.integrity import generate_keypair

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench_integrity_"))
    ok = True
    try:
        keys = generate_keypair(work / "keys")
        other_keys = generate_keypair(work / "other")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, work dir {work}")
        if "hash" not in args.skip:
            ok &= bench_hashing(work, keys, args.size_mb, args.repeats) >= 0.8
        if "load" not in args.skip:
            ok &= bench_loading(work, keys, args.model_mb, args.repeats) <= 1.3
        if "tamper" not in args.skip:
            ok &= bench_tamper(work, keys, other_keys, args.mutations, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ALL CLAIMS MET" if ok else "SOME CLAIMS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
