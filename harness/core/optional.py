"""Optional packages (pyproject extras): import one, or fail with a usage error naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.core.errors import UsageError


def import_extra(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` for ``purpose``; where it is not installed, a :class:`UsageError` that names
    the extra to install (not an internal error with a bare ``ModuleNotFoundError``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(f"{purpose} needs the package {module!r}, which is not installed here "
                         f"({exc}); install the {extra} extra: pip install 'visanom[{extra}]'") from None
