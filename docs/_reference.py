"""Writes docs/reference/*.md: one page per public package, one entry per public name.

The pages are generated from each package's `__all__` (so a new public name
appears in the reference by itself) and committed; `tests/docs_test.py`
fails when the committed pages differ from what this script writes.
Run: `python docs/_reference.py` (from the repository root).
"""

import importlib
import pathlib
import sys
import types

PACKAGES = ("keras_mlsec", "keras_mlsec.attacks", "keras_mlsec.defenses",
            "keras_mlsec.training", "keras_mlsec.privacy", "keras_mlsec.evaluation",
            "keras_mlsec.integrity", "keras_mlsec.monitoring", "keras_mlsec.callbacks",
            "keras_mlsec.datasets")
OPTIONAL = ("keras_mlsec.federated", "keras_mlsec.responsible", "keras_mlsec.audit")
OUT = pathlib.Path(__file__).resolve().parent / "reference"


def public_objects(package_name):
    """`(name, dotted path of its definition)` for each public name of a package."""
    package = importlib.import_module(package_name)
    names = getattr(package, "__all__", None)
    if names is None:
        names = [n for n in dir(package) if not n.startswith("_")]
    found = []
    for name in sorted(names):
        if name.startswith("__"):
            continue
        value = getattr(package, name)
        if isinstance(value, types.ModuleType):
            continue  # subpackages (even a callable one, keras_mlsec.audit) have their own page
        module = getattr(value, "__module__", None)
        if module is None or not module.startswith("keras_mlsec"):
            continue  # constants and re-exported third-party objects
        found.append((name, f"{module}.{getattr(value, '__qualname__', name)}"))
    return found


def page(package_name):
    short = package_name.rsplit(".", 1)[-1]
    lines = [f"# `{package_name}`", ""]
    package = importlib.import_module(package_name)
    doc = (package.__doc__ or "").strip().splitlines()
    if doc:
        lines += [doc[0], ""]
    for name, path in public_objects(package_name):
        lines += [f"::: {path}", "    options:", f"      heading: {short}.{name}"
                  if package_name != "keras_mlsec" else f"      heading: {name}", ""]
    return "\n".join(lines).rstrip() + "\n"


def pages():
    """`{file name: content}` for every package that exists."""
    result = {}
    for package_name in PACKAGES + OPTIONAL:
        try:
            importlib.import_module(package_name)
        except ModuleNotFoundError as error:
            if package_name in OPTIONAL and error.name == package_name:
                continue
            raise
        result[f"{package_name.rsplit('.', 1)[-1]}.md"] = page(package_name)
    return result


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, content in pages().items():
        (OUT / name).write_text(content)
        print("wrote", OUT / name)
    sys.exit(0)
