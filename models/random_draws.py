"""Random draws from a generator of one's own, never from torch's process-wide one.

Every Streamlit session of a server shares one Python process, and so torch's global random
generator. ``torch.manual_seed`` there would shift every other session's draws, and their draws
would shift ours: a seeded result would depend on what else the server was doing.
:func:`drawing_from` instead routes every random draw made *by this thread* inside the block —
``nn.Module`` initialisers, ``reset_parameters``, ``torch.nn.init``, ``Tensor.uniform_`` … —
to the given ``torch.Generator``. It is a :class:`~torch.overrides.TorchFunctionMode`, and torch's
mode stack is thread-local, so other threads keep drawing from the global generator, untouched.

A fresh ``torch.Generator().manual_seed(seed)`` is the same Mersenne Twister as the global CPU
generator after ``torch.manual_seed(seed)``: a block that builds a model draws exactly the
numbers it would have drawn after a global seed (the shipped checkpoints' recorded commands still
reproduce their weights bit for bit), without touching the global state.

A random function that cannot take a generator (``dropout``, ``rand_like``, …) raises inside the
block rather than drawing from the global generator unnoticed.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

#: Built-in random functions and tensor methods that take ``generator=`` (no Python signature to read).
_TAKE_A_GENERATOR: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.Tensor.uniform_,
        torch.Tensor.normal_,
        torch.Tensor.random_,
        torch.Tensor.bernoulli_,
        torch.Tensor.exponential_,
        torch.Tensor.cauchy_,
        torch.Tensor.log_normal_,
        torch.Tensor.geometric_,
        torch.rand,
        torch.randn,
        torch.randint,
        torch.randperm,
        torch.normal,
        torch.bernoulli,
        torch.multinomial,
        torch.poisson,
    }
)
#: Random functions with no ``generator=``: inside :func:`drawing_from` they are refused.
_GLOBAL_ONLY: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.rand_like,
        torch.randn_like,
        torch.randint_like,
        torch.dropout,
        torch.nn.functional.dropout,
        torch.nn.functional.dropout1d,
        torch.nn.functional.dropout2d,
        torch.nn.functional.dropout3d,
        torch.nn.functional.alpha_dropout,
        torch.nn.functional.feature_alpha_dropout,
    }
)


@functools.lru_cache(maxsize=1024)
def _takes_a_generator(func: Callable[..., Any]) -> bool:
    """Whether ``func`` draws random numbers and accepts ``generator=`` (e.g. ``torch.nn.init.*``)."""
    if func in _TAKE_A_GENERATOR:
        return True
    try:
        return "generator" in inspect.signature(func).parameters
    except (TypeError, ValueError):  # a built-in without a readable signature: not a random draw we know
        return False


class _LocalGenerator(TorchFunctionMode):
    """Gives ``generator`` to every random draw that does not name one (this thread only)."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _GLOBAL_ONLY:
            name = getattr(func, "__name__", repr(func))
            raise RuntimeError(
                f"{name} draws from torch's global random generator, which drawing_from() keeps untouched; "
                "use a function that takes generator=, or call it outside the block"
            )
        if kwargs.get("generator") is None and _takes_a_generator(func):
            kwargs["generator"] = self.generator
        return func(*args, **kwargs)


@contextlib.contextmanager
def drawing_from(generator: torch.Generator) -> Iterator[torch.Generator]:
    """Inside the block, this thread's random draws come from ``generator``; yields it.

    Raises:
        TypeError: ``generator`` is not a ``torch.Generator``.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    with _LocalGenerator(generator):
        yield generator


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (an int >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool = True, *, warn_only: bool = True) -> Iterator[None]:
    """``torch.use_deterministic_algorithms`` for the block only; the process's setting is restored after.

    The switch is process-wide while the block runs (torch has no per-thread one): used around a
    training run, which the Train page runs one at a time per server.
    """
    before = torch.are_deterministic_algorithms_enabled()
    before_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn_only)
