"""Optional on-disk caching of the numba functions that some tsb-ad detectors compile.

MatrixProfile, SAND, KShapeAD, NORMA, Left-STAMPi and the HBOS detectors call ``stumpy``,
``tslearn`` and tsb-ad functions that numba compiles on their first call in a process: tens of seconds to minutes of CPU
before the first series is scored. :func:`enable_numba_cache` turns on numba's file
cache for those functions, so only the first process on a machine pays for compilation.
It is opt-in (stumpy calls its caching experimental); scores do not change.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

# Modules whose numba-compiled functions tsb-ad's detectors call.
JIT_MODULES = ("stumpy", "tslearn.metrics.cycc", "TSB_AD.models.HBOS", "TSB_AD.utils.stat_models")


def _dispatchers(module_name: str) -> list[object]:
    from numba.core.registry import CPUDispatcher

    if module_name == "stumpy":
        from stumpy import cache

        found = []
        for mod_name, func_name in cache.get_njit_funcs():
            mod = importlib.import_module(f"stumpy.{mod_name}")
            found.append(getattr(mod, func_name))
        return found
    mod = importlib.import_module(module_name)
    return [obj for obj in vars(mod).values() if isinstance(obj, CPUDispatcher)]


def enable_numba_cache(cache_dir: str | Path) -> int:
    """Cache compiled stumpy/tslearn functions under ``cache_dir``; returns how many.

    Call before the first detector runs in the process. Modules that are missing or whose
    functions cannot be cached are skipped.
    """
    import numba

    path = Path(cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    numba.config.CACHE_DIR = str(path)
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name in JIT_MODULES:
            try:
                funcs = _dispatchers(module_name)
            except ImportError:
                continue
            for func in funcs:
                try:
                    func.enable_caching()  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - a function numba will not cache
                    continue
                count += 1
    return count
