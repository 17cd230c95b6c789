"""Working on a model shared between sessions: one lock per model object, and eval mode for a while.

:func:`model_lock` — every pass through a model shared between sessions takes it.

A model cached with ``st.cache_resource`` is shared by every browser session. Explanations put
hooks on it for the length of a forward and its backward passes; any other forward run meanwhile
(a prediction in another session) would be seen by those hooks — measured by ``bench.load``: 2 of
212 runs failed with "One of the differentiated Tensors does not require grad" before predictions
took the lock too. Re-entrant, so a function holding it may call another that takes it.

:func:`eval_mode` — eval mode for the length of a block, each module's own flag restored after
(never train mode: explanations and scores must see the model as it predicts).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

import torch
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


@contextlib.contextmanager
def eval_mode(model: nn.Module, device: torch.device | None = None) -> Iterator[None]:
    """Eval mode for the duration (never train mode), every module's own flag restored after.

    On a GPU, cuDNN is off inside: cuDNN's RNN backward cannot run in eval mode.
    """
    if device is None:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.backends.cudnn.flags(enabled=device.type != "cuda"):
            yield
    finally:
        for module, training in modes.items():  # each module's own flag: a wrapper must not reset the model
            module.training = training
