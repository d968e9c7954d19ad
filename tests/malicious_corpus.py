"""Builds a local corpus of malicious model files, one per known attack pattern.

Every payload would at most create a marker file. Files are written by hand
(zip archives with a crafted config.json, a hand-made HDF5 file, a pickle);
nothing here ever deserializes them.
"""

import base64
import copy
import json
import marshal
import os
import pickle
import zipfile

import numpy as np

_METADATA = {"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}


def _dense(name, **overrides):
    config = {"name": name, "trainable": True, "units": 2, "activation": "linear",
              "use_bias": True,
              "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                     "config": {"seed": None}, "registered_name": None},
              "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros",
                                   "config": {}, "registered_name": None}}
    config.update(overrides)
    return {"module": "keras.layers", "class_name": "Dense", "config": config,
            "registered_name": None, "build_config": {"input_shape": [None, 3]}}


def _sequential(*layers, compile_config=None):
    model = {"module": "keras", "class_name": "Sequential",
             "config": {"name": "sequential", "trainable": True, "layers": [
                 {"module": "keras.layers", "class_name": "InputLayer",
                  "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "input"},
                  "registered_name": None}, *layers]},
             "registered_name": None, "build_config": {"input_shape": [None, 3]}}
    if compile_config is not None:
        model["compile_config"] = compile_config
    return model


def _lambda_bytecode(marker):
    def payload(x, marker=marker):
        open(marker, "w").close()
        return x
    code = base64.b64encode(marshal.dumps(payload.__code__)).decode("ascii")
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "lambda", "function": {
                "class_name": "__lambda__",
                "config": {"code": code, "defaults": [marker], "closure": None}}}}


def _function(module, name):
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": "function"}


def write_keras(path, config, *, extra_members=(), metadata=_METADATA):
    """Writes a `.keras`-shaped zip with `config` and small dummy weights."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
        for name, data in extra_members:
            archive.writestr(name, data)
    return path


def build_corpus(directory, marker):
    """Writes the corpus into `directory`; returns {file name: expected finding code}."""
    marker = str(marker)
    shell = f"touch {marker}"
    cases = {}

    def keras_case(name, code, config, **kwargs):
        write_keras(os.path.join(directory, name), config, **kwargs)
        cases[name] = code

    keras_case("cve_2024_3660_lambda_bytecode.keras", "lambda-bytecode",
               _sequential(_lambda_bytecode(marker)))
    keras_case("cve_2025_1550_module_function.keras", "module-not-allowed",
               _sequential(_dense("d", activation=_function("os", "system"), name_arg=shell)))
    keras_case("cve_2025_1550_module_class.keras", "module-not-allowed", _sequential(
        {"module": "subprocess", "class_name": "Popen", "registered_name": None,
         "config": {"args": ["touch", marker]}}))
    keras_case("cve_2025_8747_get_file.keras", "dangerous-callable", _sequential(_dense(
        "d", activation=_function("keras.utils", "get_file"),
        kernel_regularizer={"module": "keras.utils", "class_name": "get_file",
                            "config": {"fname": marker, "origin": f"file://{marker}"},
                            "registered_name": None})))
    keras_case("cve_2025_9906_enable_unsafe.keras", "unsafe-deserialization", _sequential(
        _dense("d", activation=_function("keras.config", "enable_unsafe_deserialization")),
        _lambda_bytecode(marker)))
    keras_case("cve_2025_12058_vocabulary_path.keras", "vocabulary-file", _sequential(
        {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
         "config": {"name": "lookup", "vocabulary": "/etc/hostname", "output_mode": "int"}}))
    keras_case("cve_2025_12058_vocabulary_url.keras", "vocabulary-file", _sequential(
        {"module": "keras.layers", "class_name": "IntegerLookup", "registered_name": None,
         "config": {"name": "lookup", "vocabulary": "http://127.0.0.1:9/vocab.txt"}}))
    nested_lambda = _sequential(
        {"module": "keras.layers", "class_name": "TimeDistributed", "registered_name": None,
         "config": {"name": "td", "layer": {"module": "keras.layers", "class_name": "Bidirectional",
                    "registered_name": None, "config": {"layer": _lambda_bytecode(marker)}}}})
    keras_case("nested_lambda_in_wrappers.keras", "lambda-bytecode",
               {"module": "keras", "class_name": "Functional", "registered_name": None,
                "config": {"name": "outer", "layers": [nested_lambda]}})
    keras_case("nested_initializer_gadget.keras", "module-not-allowed", _sequential(_dense(
        "d", kernel_initializer={"module": "keras.initializers", "class_name": "RandomNormal",
                                 "registered_name": None,
                                 "config": {"seed": _function("posix", "system")}})))
    keras_case("nested_loss_in_compile_config.keras", "module-not-allowed", _sequential(
        _dense("d"), compile_config={"optimizer": "adam", "loss": {
            "module": "builtins", "class_name": "function", "config": "exec",
            "registered_name": "function"}}))
    keras_case("tfsm_layer.keras", "code-layer", _sequential(
        {"module": "keras.layers", "class_name": "TFSMLayer", "registered_name": None,
         "config": {"filepath": str(directory), "call_endpoint": "serving_default"}}))
    keras_case("torch_module_wrapper.keras", "code-layer", _sequential(
        {"module": "keras.layers", "class_name": "TorchModuleWrapper", "registered_name": None,
         "config": {"module": base64.b64encode(b"\x80\x04payload").decode()}}))
    keras_case("unregistered_package.keras", "package-not-allowed", _sequential(
        {"module": "keras.layers", "class_name": "Dense", "registered_name": "Evil>Dense",
         "config": {"name": "d", "units": 2}}))
    keras_case("path_traversal_member.keras", "path-traversal", _sequential(_dense("d")),
               extra_members=[("../../marker.txt", shell)])
    keras_case("unexpected_member.keras", "unexpected-member", _sequential(_dense("d")),
               extra_members=[("payload.py", f"open({marker!r}, 'w')")])
    bomb = os.path.join(directory, "zip_bomb.keras")
    write_keras(bomb, _sequential(_dense("d")))
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("assets/bomb.bin", bytes(64 * 2**20))
    cases["zip_bomb.keras"] = "zip-bomb"
    _write_h5(os.path.join(directory, "cve_2025_9905_lambda.h5"), marker)
    cases["cve_2025_9905_lambda.h5"] = "legacy-h5"
    with open(os.path.join(directory, "pickled_model.pkl"), "wb") as handle:
        handle.write(pickle.dumps(_Reduce(shell)))  # pickling never runs os.system
    cases["pickled_model.pkl"] = "pickle"
    return cases


class _Reduce:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _write_h5(path, marker):
    import h5py

    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        copy.deepcopy(_lambda_bytecode(marker))]}}
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config).encode("utf-8")
        h5.attrs["keras_version"] = b"3.15.1"
        h5.create_group("model_weights").create_dataset("w", data=np.zeros(2))
