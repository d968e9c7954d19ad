"""Sign a trained model, verify it, load it safely, and see tampering refused.

    python examples/sign_and_verify.py

Trains a small classifier on the embedded digits, checkpoints it with
SignedModelCheckpoint (every checkpoint signed, with epsilon-style metadata),
verifies the signature, loads it through load_verified_model, then shows that a
flipped byte and a hidden Lambda layer are both refused. About a minute on CPU.
"""

import os
import pathlib
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_mlsec.callbacks import SignedModelCheckpoint  # noqa: E402
from keras_mlsec.datasets import load_digits  # noqa: E402
from keras_mlsec.integrity import (IntegrityError, generate_keypair,  # noqa: E402
                                   load_verified_model, scan_model, sign_model, verify_model)


def main():
    with tempfile.TemporaryDirectory(prefix="sign_and_verify_") as folder:
        run(pathlib.Path(folder))  # the private key is removed with the folder


def run(work):
    private_key, public_key = generate_keypair(work / "keys")
    (x_train, y_train), (x_test, y_test) = load_digits(image_size=8, seed=0)
    model = keras.Sequential([keras.Input(x_train.shape[1:]), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    checkpoint = work / "best.keras"
    model.fit(x_train, y_train, validation_split=0.1, epochs=5, verbose=0, callbacks=[
        SignedModelCheckpoint(checkpoint, private_key=private_key, save_best_only=True,
                              metadata={"dataset": "sklearn digits", "code_version": "example"})])

    metadata = verify_model(checkpoint, public_key=public_key)
    print(f"verified {checkpoint.name}: epoch {metadata['checkpoint']['epoch']}, "
          f"val_loss {metadata['checkpoint']['logs']['val_loss']:.3f}")
    loaded = load_verified_model(checkpoint, public_key=public_key)
    accuracy = np.mean(np.argmax(loaded.predict(x_test, verbose=0), -1) == y_test)
    print(f"loaded through load_verified_model: test accuracy {accuracy:.3f}")

    tampered = work / "tampered.keras"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    pathlib.Path(f"{tampered}.sig").write_bytes(pathlib.Path(f"{checkpoint}.sig").read_bytes())
    try:
        load_verified_model(tampered, public_key=public_key)
    except IntegrityError as error:
        print(f"tampered copy refused ({error.reason}): {str(error)[:90]}...")

    # A Lambda layer hidden inside a nested model, signed by a careless signer.
    inner = keras.Sequential([keras.Input((10,)), keras.layers.Lambda(lambda t: t * 1.0)])
    risky = keras.Sequential([model, inner])
    risky_path = work / "risky.keras"
    risky.save(risky_path)
    sign_model(risky_path, private_key=private_key)
    for finding in scan_model(risky_path):
        print(f"scan: {finding}")
    try:
        load_verified_model(risky_path, public_key=public_key)
    except IntegrityError as error:
        print(f"signed but unsafe model refused ({error.reason})")
    with zipfile.ZipFile(risky_path) as archive:
        print(f"(archive members: {', '.join(archive.namelist())})")


if __name__ == "__main__":
    main()
