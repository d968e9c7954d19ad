"""The one-call security audit: `keras_mlsec.audit(model, train=..., test=...)`.

Runs every registered section (a check of one threat of the taxonomy) and
returns a `SecurityAudit` with a verdict per threat, the evidence, settings,
versions and the recommended defense for each failing check;
`save_html(directory)` writes one self-contained page for a reviewer.
New checks join through `register_section` (see `registry`).

The package itself is callable, so that `keras_mlsec.audit(...)` runs the
audit whether or not `keras_mlsec.audit` was imported as a module first.
"""

import sys
import types

from keras_mlsec._core.lazy import lazy_exports

_EXPORTS = {
    "audit": "keras_mlsec.audit.runner",
    "SecurityAudit": "keras_mlsec.audit.security_audit",
    "SectionResult": "keras_mlsec.audit.section_result",
    "register_section": "keras_mlsec.audit.registry",
    "SECTIONS": "keras_mlsec.audit.registry",
    "THREATS": "keras_mlsec.audit.registry",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class _CallablePackage(types.ModuleType):
    """`keras_mlsec.audit(...)` is `keras_mlsec.audit.audit(...)`."""

    def __call__(self, *args, **kwargs):
        return self.audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
