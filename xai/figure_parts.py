"""Plotly figures built fast: a layout made once per shape and kept, the traces as plain dicts.

``make_subplots`` and one ``update_xaxes``/``update_yaxes`` call per subplot cost 50–100 ms for a
five-map grid: plotly parses and validates every property path, call by call. The layout depends
only on the figure's shape (how many plots, their titles, the header), not on the window shown, so
:func:`cached_layout` builds it once per shape and hands out fresh copies; :func:`assemble` then
validates the whole figure in one pass (≈ 15 ms; the default template, taken out of the kept
layout, is put back by plotly without validating it again). The figure is the one plotly would
have built (tests compare their JSON).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import plotly.graph_objects as go

__all__ = ["assemble", "cached_layout"]

#: Layout shapes kept (per builder and arguments): a page shows a handful.
LAYOUTS_KEPT = 256


@functools.lru_cache(maxsize=LAYOUTS_KEPT)
def _layout_json(build: Callable[..., go.Figure], arguments: tuple[Hashable, ...]) -> str:
    layout = build(*arguments).layout.to_plotly_json()
    layout.pop("template", None)  # the default template: a new figure takes it without validating it again
    return json.dumps(layout)


def cached_layout(build: Callable[..., go.Figure], titles: Sequence[str], *arguments: Hashable) -> dict[str, Any]:
    """A fresh copy of ``build(len(titles), *arguments).layout`` as a dict, with ``titles`` as its first
    annotations' texts; built once per number of titles and distinct ``arguments``.

    ``build(n, *arguments)`` must be a module-level function whose figure's first ``n`` annotations
    are its subplots' titles (``make_subplots(subplot_titles=...)`` puts them first) and whose layout
    depends on nothing else (no traces are kept). The titles' texts do not move anything, so any
    methods in any order share one layout.
    """
    layout = json.loads(_layout_json(build, (len(titles), *arguments)))
    annotations = layout.get("annotations", [])
    if len(annotations) < len(titles):
        raise ValueError(f"build must make a title annotation per subplot ({len(titles)}), got {len(annotations)}")
    for annotation, text in zip(annotations, titles, strict=False):
        annotation["text"] = text
    return layout


def assemble(data: Sequence[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """``go.Figure`` of trace dicts (each with its ``type``) and a layout dict, validated in one pass."""
    return go.Figure({"data": list(data), "layout": layout})
