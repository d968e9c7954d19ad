"""pyproject.toml declares exactly the third-party packages keras_mlsec imports at run time."""

import ast
import importlib.metadata
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Declared although no module of ours imports them, each for a stated reason.
NOT_IMPORTED_BY_US = {
    # model_signing imports OpenSSL at import time without declaring it (STACK.md).
    "pyopenssl": "required by model-signing 1.1.1 at import, undeclared by it",
}


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules():
    modules = set()
    for path in (ROOT / "keras_mlsec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "keras_mlsec"}


# Extras that are tooling, not run-time features of keras_mlsec.
TOOLING_EXTRAS = ("test", "bench")


def _declared():
    """Names in `dependencies` and the feature extras (e.g. "federated": flwr)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra, extra_specs in project.get("optional-dependencies", {}).items():
        if extra not in TOOLING_EXTRAS:
            specs += extra_specs
    return {_normalize(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]) for spec in specs}


def _distributions_of(modules):
    mapping = importlib.metadata.packages_distributions()
    found = {}
    for module in modules:
        distributions = mapping.get(module)
        assert distributions, f"no installed distribution provides the module {module!r}"
        found[module] = {_normalize(d) for d in distributions}
    return found


def test_every_import_is_declared():
    declared = _declared()
    undeclared = {module: dists for module, dists in
                  _distributions_of(_imported_top_level_modules()).items()
                  if not dists & declared}
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"


def test_every_declared_package_is_imported():
    imported = set().union(*_distributions_of(_imported_top_level_modules()).values())
    unused = _declared() - imported - set(NOT_IMPORTED_BY_US)
    assert not unused, f"declared in pyproject but never imported by keras_mlsec: {unused}"
