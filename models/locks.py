"""One lock per model object: every pass through a model shared between sessions takes it.

A model cached with ``st.cache_resource`` is shared by every browser session. Explanations put
hooks on it for the length of a forward and its backward passes; any other forward run meanwhile
(a prediction in another session) would be seen by those hooks — measured by ``bench.load``: 2 of
212 runs failed with "One of the differentiated Tensors does not require grad" before predictions
took the lock too. Re-entrant, so a function holding it may call another that takes it.
"""

from __future__ import annotations

import threading
import weakref

from torch import nn

_locks: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The lock that serialises work on ``model`` (one per model object, created on first use)."""
    with _locks_guard:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock
