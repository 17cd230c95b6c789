"""Import pyts once per process, with numba's on-disk cache switched on.

pyts compiles its numba kernels eagerly when it is imported — about 20 s on
the 2-core machine, in every new process — and does not ask numba to cache
them. Importing it here, with ``cache=True`` added to its ``njit`` calls and
the cache placed in ``<cache folder>/numba``, pays that once per machine: the
next processes load the compiled kernels in about 2 s. numba keys each entry on
the source file and signature, so a pyts upgrade recompiles.

The numba cache holds compiled code and pickles: it lives in the user's private
cache folder (created with mode 0700), never in a shared writable one. A
``NUMBA_CACHE_DIR`` set by the user is respected.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from data.settings import cache_dir

_import_lock = threading.Lock()


def _with_cache(njit: Callable[..., Any]) -> Callable[..., Any]:
    def cached_njit(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return njit(*args, **kwargs)

    return cached_njit


def gramian_angular_field_class() -> type:
    """Return ``pyts.image.GramianAngularField``, importing pyts with numba caching on first use."""
    with _import_lock:
        if "pyts.image" not in sys.modules:
            import numba

            if not os.environ.get("NUMBA_CACHE_DIR"):
                folder = cache_dir() / "numba"
                folder.mkdir(mode=0o700, exist_ok=True)
                numba.config.CACHE_DIR = str(folder)
            original = numba.njit
            numba.njit = _with_cache(original)
            try:
                importlib.import_module("pyts.image")
            finally:
                numba.njit = original
        return sys.modules["pyts.image"].GramianAngularField
