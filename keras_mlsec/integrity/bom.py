"""`ml_bom`: a CycloneDX 1.6 ML-BOM of a Keras model, its data, environment and reports.

Built with `cyclonedx-python-lib` (components, hashes, package URLs,
properties, tools). That library does not model the 1.6 `modelCard` and
component `data` fields yet, so those two are added to its JSON output here;
the whole document validates against the CycloneDX 1.6 JSON schema with the
library's own validator (see tests/integrity/bom_test.py).
"""

import hashlib
import importlib.metadata
import json
import os
import zipfile

import numpy as np

from keras_mlsec._core import files as _files
from keras_mlsec.integrity import _model_card
from keras_mlsec.integrity.digests import PREFIX, _array_bytes, describe_dataset

MODEL_REF = "model"
_MAX_CONFIG_BYTES = 64 * 2**20


def _model_facts(model):
    """`(sha256 hex, digest_of, facts)` of a `.keras` file path or a `keras.Model`."""
    if isinstance(model, (str, os.PathLike)):
        path = _files.check_path(model, "model", kind="`.keras` model file")
        if not path.is_file() or not zipfile.is_zipfile(path):
            raise ValueError(f"Expected `model` to be a keras.Model or a `.keras` file (a Keras "
                             f"v3 zip archive). Received: model='{path}'")
        with zipfile.ZipFile(path) as archive:
            facts = {"name": path.name}
            for member in ("config.json", "metadata.json"):
                try:
                    info = archive.getinfo(member)
                except KeyError:
                    continue
                if info.file_size <= _MAX_CONFIG_BYTES:
                    facts[member] = json.loads(archive.read(info))
        config = facts.get("config.json") or {}
        facts = {"name": (config.get("config") or {}).get("name") or path.stem,
                 "class_name": config.get("class_name"),
                 "keras_version": (facts.get("metadata.json") or {}).get("keras_version")}
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
        return hasher.hexdigest(), "keras_file", facts
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected `model` to be a keras.Model or a path to a `.keras` file. "
                        f"Received: model of type {type(model).__name__}")
    hasher = hashlib.sha256(b"keras_mlsec.weights_digest/v1\0")
    for weight in model.weights:
        header, data = _array_bytes(np.asarray(weight), "model")
        hasher.update(weight.path.encode("utf-8") + b"\0" + header)
        hasher.update(data)
    facts = {"name": model.name, "class_name": type(model).__name__,
             "keras_version": keras.__version__, "parameters": int(model.count_params())}
    for kind in ("input", "output"):
        try:
            facts[f"{kind}_shape"] = str(getattr(model, f"{kind}_shape"))
        except (AttributeError, ValueError):
            pass
    return hasher.hexdigest(), "weights", facts


def _dataset_digests(datasets):
    """`{name: (digest, properties)}` from the `datasets` mapping."""
    if datasets is None:
        return {}
    if not isinstance(datasets, dict):
        raise TypeError(f"Expected `datasets` to be a dict {{name: data}} or None. "
                        f"Received: datasets of type {type(datasets).__name__}")
    out = {}
    for name, value in datasets.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"Expected the keys of `datasets` to be non-empty names. "
                            f"Received: {name!r}")
        out[name] = describe_dataset(value, f"datasets[{name!r}]")
    return out


def _properties(facts, prefix="keras_mlsec"):
    from cyclonedx.model import Property

    return [Property(name=f"{prefix}:{key}", value=str(val))
            for key, val in facts.items() if val is not None]


def _environment():
    """One `(name, version)` per installed Python distribution, sorted, deduplicated."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name and dist.version:
            found.setdefault(name.lower().replace("_", "-"), (name, dist.version))
    return [found[key] for key in sorted(found)]


def _check_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(f"Expected `metadata` to be a dict with string keys or None. "
                        f"Received: metadata={metadata!r:.80}")
    try:
        return {key: val if isinstance(val, str) else json.dumps(val, sort_keys=True,
                                                                 allow_nan=False)
                for key, val in metadata.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"Expected `metadata` values to be strings or JSON-serialisable. "
                         f"Received: metadata={metadata!r:.80} ({error})") from None


def ml_bom(model, *, datasets=None, reports=(), metadata=None):
    """A CycloneDX 1.6 ML-BOM (JSON) of a model: its file, data, environment and reports.

    The document holds the model as a `machine-learning-model` component
    (the sha256 of its `.keras` file, or of its weights for an in-memory
    model), each data set as a `data` component with its `dataset_digest`,
    every installed Python distribution as a `library` component with its
    version and package URL, and a `modelCard` whose `modelParameters.datasets`
    reference the data components and whose `quantitativeAnalysis` lists the
    measured security properties from `reports`.

    Args:
        model: a path to a `.keras` file (read as a zip; nothing is
            deserialized) or a `keras.Model`.
        datasets: optional dict `{name: data}`, data being a digest from
            `dataset_digest`, a file or folder path, an array, or an `(x, y)` pair.
        reports: `RobustnessReport`s (clean, adversarial and worst-case robust
            accuracy), `PrivacyBudget` callbacks (epsilon, delta), `MembershipReport`s
            (membership AUC, advantage, TPR at low FPR), `FairnessReport`s
            (disparate impact, statistical parity, equal opportunity, average
            odds, Theil index).
        metadata: optional dict of facts stored as BOM properties
            `keras_mlsec:<key>` (strings, or JSON-serialisable values).

    Returns:
        The CycloneDX 1.6 JSON document as a string.

    Raises:
        TypeError: an unknown report type (naming `reports[i]`), a model of
            the wrong type, a `datasets` that is not a dict.
        ValueError, FileNotFoundError: a file that is not a `.keras` archive,
            a malformed digest, a missing data path.

    Example:

    >>> bom = json.loads(ml_bom("model.keras", datasets={"train": (x_train, y_train)},
    ...                         reports=[robustness_report]))
    >>> bom["components"][0]["modelCard"]["quantitativeAnalysis"]
    """
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    if not isinstance(reports, (list, tuple)):
        raise TypeError(f"Expected `reports` to be a list or tuple of reports. "
                        f"Received: reports of type {type(reports).__name__}")
    metrics = [m for i, report in enumerate(reports)
               for m in _model_card.report_metrics(report, i)]
    properties = _check_metadata(metadata)
    data = _dataset_digests(datasets)
    model_sha, digest_of, facts = _model_facts(model)

    sha256 = HashAlgorithm.SHA_256
    model_component = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL, name=facts["name"], bom_ref=MODEL_REF,
        hashes=[HashType(alg=sha256, content=model_sha)],
        properties=_properties({"digest_of": digest_of, **{k: v for k, v in facts.items()
                                                          if k != "name"}}))
    components = [model_component]
    for name, (digest, extra) in data.items():
        components.append(Component(
            type=ComponentType.DATA, name=name, bom_ref=f"data:{name}",
            hashes=[HashType(alg=sha256, content=digest[len(PREFIX):])],
            properties=_properties({"dataset_digest": digest, **extra})))
    for name, version in _environment():
        components.append(Component(
            type=ComponentType.LIBRARY, name=name, version=version,
            bom_ref=f"pypi:{name}@{version}", purl=PackageURL(type="pypi", name=name,
                                                               version=version)))
    bom = Bom(components=components)
    bom.metadata.tools.components.add(Component(
        type=ComponentType.APPLICATION, name="keras-mlsec", version=_own_version()))
    bom.metadata.properties.update(_properties(properties))
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    _add_ml_fields(document, data, metrics, facts)
    return json.dumps(document, indent=2, sort_keys=False)


def _own_version():
    try:
        return importlib.metadata.version("keras-mlsec")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _add_ml_fields(document, data, metrics, facts):
    """Adds the 1.6 fields the library does not model: `modelCard` and component `data`.

    Also lists the model first, then the data, then the libraries.
    """
    order = {"machine-learning-model": 0, "data": 1}
    document["components"] = sorted(document.get("components", []),
                                    key=lambda c: order.get(c.get("type"), 2))
    for component in document.get("components", []):
        ref = component.get("bom-ref", "")
        if ref.startswith("data:") and ref[len("data:"):] in data:
            component["data"] = [{"type": "dataset", "name": ref[len("data:"):]}]
        elif ref == MODEL_REF:
            parameters = {"approach": {"type": "supervised"},
                          "architectureFamily": "keras",
                          "modelArchitecture": str(facts.get("class_name") or "keras.Model")}
            if data:
                parameters["datasets"] = [{"ref": f"data:{name}"} for name in data]
            card = {"bom-ref": "model-card", "modelParameters": parameters}
            if metrics:
                card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
            component["modelCard"] = card


__all__ = ["ml_bom"]
