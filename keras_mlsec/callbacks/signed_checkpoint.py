"""`ModelCheckpoint` that signs every file it writes, atomically."""

import math
import os
import pathlib

import keras

from keras_mlsec._core import files as _files
from keras_mlsec.integrity.audit_log import check_audit_log, log_event
from keras_mlsec.integrity.digests import describe_dataset
from keras_mlsec.integrity.bom import ml_bom
from keras_mlsec.integrity.provenance import default_bom_path
from keras_mlsec.integrity.signing import default_signature_path, sign_model

_PREVIOUS = ".previous"


@keras.saving.register_keras_serializable(package="keras_mlsec")
class SignedModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras `ModelCheckpoint` plus an OpenSSF model signature for every file.

    Each checkpoint `ckpt.keras` gets a signature bundle `ckpt.keras.sig`
    (checkable with `keras_mlsec.integrity.verify_model` or the
    `model_signing` CLI). The epoch, batch and logged metrics are signed with
    the model, together with `metadata`.

    Writes are crash-safe. The new model and its signature are written to
    temporary files, flushed with fsync and signed first; then the old pair is
    moved aside (`ckpt.keras.previous` + `.sig`), the new signature and the new
    model are renamed into place, and the old pair is deleted. A process killed
    at any moment therefore leaves either the previous or the new verified
    pair; `ckpt.keras`, whenever it exists, matches `ckpt.keras.sig`. After a
    crash between the two renames `ckpt.keras` is briefly absent and the
    previous pair sits in `ckpt.keras.previous`: `recover(filepath)` (also run
    by `on_train_begin`) moves it back.

    With `provenance=True` each checkpoint also gets a CycloneDX ML-BOM,
    `ckpt.keras.cdx.json` (see `keras_mlsec.integrity.bom`: the model's
    digest, the training `datasets`, the Python environment, the `reports`
    and the checkpoint's logs), whose sha256 is signed in the same bundle as
    the model; it is installed with the same crash-safe renames, and
    `load_verified_model(..., expected_datasets=...)` refuses the checkpoint
    when the BOM names other data.

    Args:
        filepath: as for `keras.callbacks.ModelCheckpoint` (`.keras` file, or
            `.weights.h5` with `save_weights_only=True`; may hold
            `{epoch}`-style fields).
        private_key: path to the PEM elliptic-curve private key.
        monitor: as for `keras.callbacks.ModelCheckpoint`.
        verbose: as for `keras.callbacks.ModelCheckpoint`.
        save_best_only: as for `keras.callbacks.ModelCheckpoint`.
        save_weights_only: as for `keras.callbacks.ModelCheckpoint`.
        mode: as for `keras.callbacks.ModelCheckpoint`.
        save_freq: as for `keras.callbacks.ModelCheckpoint`.
        initial_value_threshold: as for `keras.callbacks.ModelCheckpoint`.
        metadata: optional dict of JSON-serialisable facts signed with every
            checkpoint (e.g. dataset hash, code version).
        provenance: write and sign an ML-BOM beside every checkpoint.
        datasets: with `provenance`, the training (and evaluation) data: a
            dict `{name: data}`, data being digests from `dataset_digest`,
            paths, arrays or `(x, y)` pairs; digested once here, and kept as
            digests (`get_config` stores those).
        reports: with `provenance`, reports for the BOM's model card, read at
            every checkpoint (e.g. the `PrivacyBudget` callback of the same
            `fit`). Not serialized by `get_config`.
        audit_log: optional `AuditLog` receiving a `sign_model` record per
            checkpoint. Not serialized by `get_config`.

    Example:

    >>> model.fit(x, y, validation_split=0.1, callbacks=[
    ...     SignedModelCheckpoint("ckpt.keras", private_key="keys/private_key.pem",
    ...                           save_best_only=True)])
    """

    def __init__(self, filepath, *, private_key, monitor="val_loss", verbose=0,
                 save_best_only=False, save_weights_only=False, mode="auto",
                 save_freq="epoch", initial_value_threshold=None, metadata=None,
                 provenance=False, datasets=None, reports=(), audit_log=None):
        _files.load_private_key(private_key)  # fail here, not at the first epoch
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"Expected `metadata` to be a dict or None. "
                            f"Received: metadata={metadata!r:.80}")
        if not isinstance(provenance, bool):
            raise TypeError(f"Expected `provenance` to be True or False. "
                            f"Received: provenance={provenance!r}")
        if not provenance and (datasets is not None or reports):
            raise ValueError("Expected provenance=True with `datasets` or `reports` (they go "
                             "into the ML-BOM). Received: provenance=False")
        if provenance and save_weights_only:
            raise ValueError("Expected save_weights_only=False with provenance=True: the "
                             "ML-BOM describes a whole `.keras` model. Received: "
                             "save_weights_only=True")
        if datasets is not None and not isinstance(datasets, dict):
            raise TypeError(f"Expected `datasets` to be a dict {{name: data}} or None. "
                            f"Received: datasets of type {type(datasets).__name__}")
        if not isinstance(reports, (list, tuple)):
            raise TypeError(f"Expected `reports` to be a list or tuple. "
                            f"Received: reports of type {type(reports).__name__}")
        super().__init__(filepath, monitor=monitor, verbose=verbose,
                         save_best_only=save_best_only, save_weights_only=save_weights_only,
                         mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold)
        self.private_key = os.fspath(private_key)
        self.metadata = metadata
        self.provenance = provenance
        self.datasets = None if datasets is None else {
            name: describe_dataset(value, f"datasets[{name!r}]")[0]
            for name, value in datasets.items()}
        self.reports = tuple(reports)
        self.audit_log = check_audit_log(audit_log)
        self.mode = mode
        self.initial_value_threshold = initial_value_threshold

    def get_config(self):
        """The constructor arguments (the key is stored as its path only)."""
        return {"filepath": self.filepath, "private_key": self.private_key,
                "monitor": self.monitor, "verbose": self.verbose,
                "save_best_only": self.save_best_only,
                "save_weights_only": self.save_weights_only, "mode": self.mode,
                "save_freq": self.save_freq,
                "initial_value_threshold": self.initial_value_threshold,
                "metadata": self.metadata, "provenance": self.provenance,
                "datasets": self.datasets}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def on_train_begin(self, logs=None):
        if "{" not in self.filepath:
            self.recover(self.filepath)
        parent = getattr(super(), "on_train_begin", None)
        if parent is not None:
            parent(logs)

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        facts = dict(self.metadata or {})
        facts["checkpoint"] = {
            "epoch": epoch + 1, "batch": None if batch is None else batch + 1,
            "logs": {k: _json_number(v) for k, v in (logs or {}).items() if _is_scalar(v)}}
        self._write_signed(pathlib.Path(filepath), facts)
        if self.verbose > 0:
            keras.utils.io_utils.print_msg(
                f"\nEpoch {epoch + 1}: finished saving signed model to {filepath}")

    def _write_signed(self, final, facts):
        suffix = ".weights.h5" if self.save_weights_only else ".keras"
        signature = default_signature_path(final)
        tmp_model = _files.temporary_path(final, suffix)
        tmp_signature = _files.temporary_path(signature)
        tmp_bom = _files.temporary_path(default_bom_path(final)) if self.provenance else None
        try:
            if self.save_weights_only:
                self.model.save_weights(tmp_model, overwrite=True)
            else:
                self.model.save(tmp_model, overwrite=True)
            _fsync_file(tmp_model)
            if tmp_bom is not None:
                document = ml_bom(tmp_model, datasets=self.datasets, reports=self.reports,
                                  metadata=facts)
                _files.atomic_write_bytes(tmp_bom, document.encode("utf-8"))
            sign_model(tmp_model, private_key=self.private_key, signature_path=tmp_signature,
                       metadata=facts, ml_bom=tmp_bom)
            self._install(final, signature, tmp_model, tmp_signature, tmp_bom)
            log_event(self.audit_log, "sign_model", {
                "path": str(final), "signature_path": str(signature), "result": "accepted",
                "ml_bom": None if tmp_bom is None else str(default_bom_path(final)),
                "metadata": facts})
        finally:
            for tmp in (tmp_model, tmp_signature, tmp_bom):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)

    @staticmethod
    def _install(final, signature, tmp_model, tmp_signature, tmp_bom=None):
        previous, previous_sig = _previous_paths(final)
        bom, previous_bom = default_bom_path(final), default_bom_path(previous)
        if final.exists():
            previous.unlink(missing_ok=True)  # stale pair from an earlier crash: model first
            previous_sig.unlink(missing_ok=True)
            previous_bom.unlink(missing_ok=True)
            if signature.exists():
                _link_or_copy(signature, previous_sig)
            if bom.exists():
                _link_or_copy(bom, previous_bom)
            os.replace(final, previous)  # now only the previous pair holds a model
        os.replace(tmp_signature, signature)
        if tmp_bom is not None:
            os.replace(tmp_bom, bom)
        else:
            bom.unlink(missing_ok=True)  # a BOM of an older model would mislead
        os.replace(tmp_model, final)  # the new pair (and BOM) is complete
        _files.fsync_directory(final.parent)
        for stale in (previous, previous_sig, previous_bom):
            stale.unlink(missing_ok=True)

    @staticmethod
    def recover(filepath):
        """Restores the last complete checkpoint pair after a crash.

        When `filepath` is missing but its `.previous` pair exists (the process
        died between the renames), the previous pair is moved back; leftover
        temporary files are removed.

        Returns:
            The checkpoint path when a checkpoint exists afterwards, else None.
        """
        final = pathlib.Path(filepath)
        signature = default_signature_path(final)
        previous, previous_sig = _previous_paths(final)
        bom, previous_bom = default_bom_path(final), default_bom_path(previous)
        if not final.exists() and previous.exists() and previous_sig.exists():
            os.replace(previous_sig, signature)
            if previous_bom.exists():
                os.replace(previous_bom, bom)
            else:
                bom.unlink(missing_ok=True)  # the new model's BOM, installed before the crash
            os.replace(previous, final)
            _files.fsync_directory(final.parent)
        elif final.exists():
            for stale in (previous, previous_sig, previous_bom):
                stale.unlink(missing_ok=True)
        if final.parent.is_dir():
            for leftover in final.parent.glob(f".{final.name}*.tmp*"):
                leftover.unlink(missing_ok=True)
        return final if final.exists() else None


def _previous_paths(final):
    previous = final.with_name(final.name + _PREVIOUS)
    return previous, default_signature_path(previous)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        _files.atomic_write_bytes(target, source.read_bytes())


def _fsync_file(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _json_number(value):
    """`float(value)`, or its text ("nan", "inf") where JSON has no such number."""
    number = float(value)
    return number if math.isfinite(number) else str(number)


def _is_scalar(value):
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
