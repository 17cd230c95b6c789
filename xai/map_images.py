"""Heat maps as PNG images for plotly: coloured on the server, encoded deterministically.

A ``go.Heatmap`` sends its values as an array of floats, and the browser colours them; a
128 × 128 map is 64 kB of float32 (86 kB once base64-encoded), the model image under it as much
again, ten of them per comparison. Coloured here and sent as PNGs, the same maps are a few kB
each, and only the hover values are lost. :func:`xai.render.comparison_figure` places them as
layout images: plotly sets a data-URL layout image's ``href`` in the same render, while an image
trace (``go.Image(source=...)``, what ``plotly.express.imshow(..., binary_string=True)`` makes) is
drawn only once the browser has decoded it — on the dashboard, back to a day already seen took
0.41 s until the maps were drawn with image traces and 0.21 s with layout images
(``python -m bench.dashboard``, same machine and load).

* :func:`colorize` — values → ``(H, W, 3) uint8`` through a plotly colour scale, interpolated
  linearly in RGB between its stops, as plotly.js colours a heat map.
* :func:`png_data_url` — ``(H, W, 3|4) uint8`` → a ``data:image/png;base64,…`` URL. Deterministic:
  the same pixels give the same bytes (no time stamp or other metadata, fixed compression), so two
  sessions get byte-identical charts (``python -m bench.load`` checks it).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["colorize", "png_data_url", "scale_colors"]

#: zlib level of every PNG: fixed, so the bytes depend on the pixels only.
PNG_COMPRESS_LEVEL = 6
_RGB = re.compile(r"^rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)$")


def scale_colors(colorscale: Sequence[Sequence[Any]]) -> tuple[np.ndarray, np.ndarray]:
    """A plotly colour scale ``[[position, "rgb(r,g,b)"], …]`` as ``(positions (K,), colours (K, 3) float64)``.

    Raises:
        ValueError: fewer than two stops, positions not rising from 0 to 1, or a colour that is not
            ``rgb(r,g,b)`` text.
    """
    stops = list(colorscale)
    if len(stops) < 2:
        raise ValueError(f"colorscale must have at least 2 stops, got {len(stops)}")
    positions = np.array([float(position) for position, _ in stops])
    if positions[0] != 0.0 or positions[-1] != 1.0 or (np.diff(positions) <= 0).any():
        raise ValueError(f"colorscale positions must rise from 0 to 1, got {positions.tolist()}")
    colors = []
    for _, color in stops:
        match = _RGB.match(str(color).replace(" ", ""))
        if match is None:
            raise ValueError(f"colorscale colours must be 'rgb(r,g,b)' text, got {color!r}")
        colors.append([float(channel) for channel in match.groups()])
    return positions, np.array(colors)


def colorize(values: np.ndarray, colorscale: Sequence[Sequence[Any]], zmin: float, zmax: float) -> np.ndarray:
    """``(H, W)`` real values → ``(H, W, 3) uint8`` colours of ``colorscale`` on ``[zmin, zmax]``.

    Values are clipped to the range (as plotly clips ``zmin``/``zmax``); each channel is
    interpolated linearly between the two nearest stops and rounded to the nearest integer.

    Raises:
        ValueError: ``zmax <= zmin``, or values that are not a finite 2-D array.
    """
    if not zmax > zmin:
        raise ValueError(f"zmax must be above zmin, got zmin={zmin!r}, zmax={zmax!r}")
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or not np.isfinite(array).all():
        raise ValueError(f"values must be a finite 2-D array, got shape {array.shape}")
    positions, colors = scale_colors(colorscale)
    where = np.clip((array - zmin) / (zmax - zmin), 0.0, 1.0)
    channels = [np.interp(where, positions, colors[:, channel]) for channel in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def png_data_url(pixels: np.ndarray) -> str:
    """``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA ``uint8`` pixels as a PNG data URL (deterministic bytes).

    Raises:
        ValueError: not a ``uint8`` array of that shape.
    """
    array = np.asarray(pixels)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"pixels must be an (H, W, 3|4) uint8 array, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
