"""Skip, with the reason, where an optional package (an extra) is missing.

``pytestmark = requires("openai", extra="api")`` at module level, or ``@requires(...)`` on a
test: the test runs wherever the package is installed (the main ``.venv`` has every extra) and
is skipped naming the extra to install where it is not (README: "each is skipped, with the
reason, where its extra is missing"). ``tests/test_core_only.py`` checks collection stays clean
with the optional packages hidden.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest


def missing(*modules: str) -> list[str]:
    """The modules among ``modules`` that are not importable here (found, never imported)."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def requires(*modules: str, extra: str) -> pytest.MarkDecorator:
    """A skipif marker: skip unless every module in ``modules`` is installed, naming ``extra``."""
    absent = missing(*modules)
    reason = f"needs {', '.join(absent)}: the {extra} extra (pip install -e '.[{extra}]')"
    return pytest.mark.skipif(bool(absent), reason=reason)


def need(module: str, extra: str) -> ModuleType:
    """Inside a test or fixture: import ``module`` or skip, naming ``extra`` (pytest.importorskip)."""
    return pytest.importorskip(module, reason=f"needs {module}: the {extra} extra (pip install -e '.[{extra}]')")
