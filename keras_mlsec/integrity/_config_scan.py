"""Walks a Keras model config (any JSON tree) and reports dangerous references.

Every dict with `class_name`, `module` or `registered_name` is checked against
the allowlist, wherever it sits (nested models, wrappers, initializers,
regularizers, losses, metrics, optimizer schedules, compile and build configs),
and every string is checked for unsafe-deserialization switches, URLs and
file paths.
"""

import re

from keras_mlsec.integrity.finding import Finding

DEFAULT_ALLOWED = ("keras", "keras_mlsec")

# Layers that run code the config cannot describe safely.
_CODE_LAYERS = {
    "Lambda": "Lambda layer: runs an arbitrary Python function when the model is built "
              "or called (CVE-2024-3660 for marshalled bytecode)",
    "TFSMLayer": "TFSMLayer: loads and runs a TensorFlow SavedModel from a path",
    "TorchModuleWrapper": "TorchModuleWrapper: unpickles a PyTorch module (arbitrary code)",
    "JaxLayer": "JaxLayer: wraps an arbitrary JAX function",
    "FlaxLayer": "FlaxLayer: wraps an arbitrary Flax module",
}
_LOOKUP_LAYERS = ("StringLookup", "IntegerLookup", "TextVectorization")
# Only functions from these modules may be referenced (activations, losses, metrics).
_FUNCTION_MODULES = (
    "keras.activations", "keras.losses", "keras.metrics", "keras.ops",
    "keras.src.activations", "keras.src.losses", "keras.src.metrics", "keras.src.ops",
    "keras_mlsec",
)
# Callables that read or write files, load other models or turn safe mode off.
_DANGEROUS_NAMES = {
    "enable_unsafe_deserialization", "get_file", "load_model", "load_weights",
    "save_model", "model_from_json", "exec", "eval", "system", "popen",
    "__import__", "open", "copy", "rmtree", "remove", "makedirs", "loads", "load",
}
_SPECIAL_CLASSES = {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__",
                    "__typespec__", "__slice__", "__ellipsis__", "__tuple__"}
_PATH_KEYS = {"vocabulary", "idf_weights", "filepath", "file_path", "path", "fname",
              "origin", "url", "cache_dir", "cache_subdir", "directory", "data_dir"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_PATH = re.compile(r"^(/|~|\\\\|[A-Za-z]:[\\/])|(^|[\\/])\.\.([\\/]|$)")


def _allowed(module, allow):
    return any(module == entry or module.startswith(entry + ".") for entry in allow)


def _child_path(path, key):
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def walk_config(config, *, allow=(), where="config.json"):
    """Returns the findings for a parsed config tree.

    Args:
        config: the parsed JSON (dicts, lists, strings, numbers).
        allow: extra module prefixes or registered-name packages to trust.
        where: the file name used in finding locations.
    """
    allow = tuple(DEFAULT_ALLOWED) + tuple(allow)
    findings = []
    stack = [("", config, None)]
    while stack:
        path, node, key = stack.pop()
        location = f"{where}:{path or '<root>'}"
        if isinstance(node, dict):
            findings.extend(_check_object(node, allow, location))
            stack.extend((_child_path(path, k), v, k) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((_child_path(path, i), v, None) for i, v in enumerate(node))
        elif isinstance(node, str):
            findings.extend(_check_string(node, key, location))
    return findings


def _check_object(node, allow, location):
    found = []
    class_name = node.get("class_name")
    module = node.get("module")
    registered = node.get("registered_name")
    if not isinstance(class_name, str):
        return found
    if isinstance(module, str) and module and not _allowed(module, allow):
        found.append(Finding(
            "critical", "module-not-allowed",
            f"reference to {module}.{class_name}: module '{module}' is outside the allowlist "
            f"{allow}; loading it imports and calls arbitrary code (CVE-2025-1550)", location))
    short = registered.split(">")[-1] if isinstance(registered, str) else class_name
    for name in {class_name, short}:
        if name in _CODE_LAYERS:
            severity = "critical" if _has_bytecode(node) else "high"
            found.append(Finding(severity, "code-layer", _CODE_LAYERS[name], location))
    if class_name == "__lambda__":
        found.append(Finding("critical", "lambda-bytecode",
                             "marshalled Python bytecode (a lambda) in the config "
                             "(CVE-2024-3660)", location))
    if isinstance(registered, str) and ">" in registered:
        package = registered.split(">")[0]
        if package not in allow and not _allowed(package, allow):
            found.append(Finding(
                "high", "package-not-allowed",
                f"custom object '{registered}' from package '{package}', which is not in the "
                f"allowlist; pass allow=('{package}',) if you trust it", location))
    if class_name == "function" or (isinstance(node.get("config"), str) and module):
        found.extend(_check_function(module, node.get("config"), allow, location))
    elif class_name in _DANGEROUS_NAMES or short in _DANGEROUS_NAMES:
        found.append(Finding("critical", "dangerous-callable",
                             f"reference to '{class_name}', which reads or writes files, loads "
                             "other models or disables safe mode (CVE-2025-8747, -9906)", location))
    if class_name in _LOOKUP_LAYERS and isinstance(node.get("config"), dict):
        for key in ("vocabulary", "idf_weights"):
            value = node["config"].get(key)
            if isinstance(value, str):
                found.append(Finding(
                    "high", "vocabulary-file",
                    f"{class_name}.{key} is the string {value[:80]!r}: a lookup layer reads it as "
                    "a file path or URL when loaded (arbitrary file read, CVE-2025-12058)",
                    f"{location}.config.{key}"))
    return found


def _has_bytecode(node):
    config = node.get("config")
    text = repr(config) if isinstance(config, dict) else ""
    return "__lambda__" in text or "'code'" in text


def _check_function(module, name, allow, location):
    module = module if isinstance(module, str) else ""
    label = f"{module}.{name}" if module else str(name)
    if isinstance(name, str) and name in _DANGEROUS_NAMES:
        return [Finding("critical", "dangerous-callable",
                        f"reference to function {label}, which reads or writes files, loads other "
                        "models or disables safe mode (CVE-2025-8747, CVE-2025-9906)", location)]
    user = tuple(a for a in allow if a not in DEFAULT_ALLOWED)
    if _allowed(module, _FUNCTION_MODULES + user):
        return []
    return [Finding("high", "function-not-allowed",
                    f"reference to function {label}: only activations, losses, metrics and ops "
                    "functions from Keras (or modules in allow=) may be deserialized", location)]


def _check_string(value, key, location):
    found = []
    if "enable_unsafe_deserialization" in value:
        found.append(Finding("critical", "unsafe-deserialization",
                             f"the string {value[:80]!r} refers to the switch that turns Keras "
                             "safe mode off (CVE-2025-9906)", location))
    if _URL.match(value):
        found.append(Finding("high", "url-reference",
                             f"URL {value[:80]!r}: loading could fetch remote content or read "
                             "local files through it", location))
    elif key in _PATH_KEYS and value:
        found.append(Finding("high", "file-reference",
                             f"'{key}' is the path {value[:80]!r}: loading could read a file "
                             "outside the archive", location))
    elif _PATH.search(value):
        found.append(Finding("medium", "path-string",
                             f"path-like string {value[:80]!r} in the config", location))
    return found
