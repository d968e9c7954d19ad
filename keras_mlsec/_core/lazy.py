"""Lazy exports for package `__init__` modules, so `import keras_mlsec` stays light."""

import importlib
import sys


def lazy_exports(module_name, exports):
    """Builds the `__getattr__` and `__dir__` of a package that imports on first use.

    Args:
        module_name: the package's `__name__`.
        exports: `{public name: module path}`; the attribute of that name is
            taken from the module, or the module itself when its path ends
            with the public name (a sub-package).

    Returns:
        `(__getattr__, __dir__)` to assign at the package's top level.
    """
    namespace = sys.modules[module_name].__dict__

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        value = module if exports[name].rsplit(".", 1)[-1] == name else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
