"""Raw attributions out: NPZ, CSV and the JSON of how they were made (no Streamlit here).

* :func:`export_parameters` -- what was explained and how (methods, target,
  Grad-CAM options, shape), the caller's context, library versions and a UTC
  timestamp, as a JSON-serialisable dict.
* :func:`attributions_npz` -- every raw map (and Grad-CAM's layer map, the time
  profiles, the target and the parameters) in one compressed ``.npz``, loadable
  with ``np.load(..., allow_pickle=False)``: no object arrays.
* :func:`attributions_csv`, :func:`per_time_csv` -- long- and wide-format CSV
  for spreadsheets; floats are written so that they read back exactly.
* :func:`params_json` -- the parameters as pretty, key-sorted UTF-8 JSON.

The exported values are the raw attributions, not the display-scaled maps of
:mod:`xai.render`.

Errors: ``TypeError`` for wrong types, ``ValueError`` for wrong values; each
message names the parameter, the rule and the value received.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import io
import json
import platform
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from xai.explain import ExplanationSet
from xai.methods import METHODS

__all__ = [
    "NPZ_RESERVED",
    "VERSIONED_LIBRARIES",
    "attributions_csv",
    "attributions_npz",
    "export_parameters",
    "library_versions",
    "params_json",
    "per_time_csv",
]

#: Distributions whose versions every export records (plus Python itself).
VERSIONED_LIBRARIES = ("numpy", "pandas", "torch", "torchvision", "captum", "pyts", "plotly")
#: NPZ entries that are not method maps (a method key may not take these names).
NPZ_RESERVED = ("target", "params_json")
#: Separator between a method key and the kind of a derived NPZ entry (``gradcam__layer_map``).
_SUFFIX_SEPARATOR = "__"
#: Printf format of float32 values in CSV: 9 significant digits round-trip any float32.
_FLOAT32_FORMAT = "%.9g"


def library_versions() -> dict[str, str]:
    """Versions of Python and of :data:`VERSIONED_LIBRARIES` (``"not installed"`` when missing).

    Read once per process (each look-up scans the installed packages' metadata: ≈ 15 ms, on every
    page run before); a fresh copy each call.
    """
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# --- validation --------------------------------------------------------------


def _explanations(value: Any) -> ExplanationSet:
    if not isinstance(value, ExplanationSet):
        raise TypeError(f"explanations must be an xai.explain.ExplanationSet, got {type(value).__name__}")
    if not value.maps:
        raise ValueError("explanations must hold at least 1 method, got none")
    return value


def _attribution(explanations: ExplanationSet, key: str) -> np.ndarray:
    """The method's map as ``(N, 1, S, S) float32``."""
    array = np.asarray(explanations.maps[key].attribution)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"explanations.maps[{key!r}].attribution must be real numbers, got dtype {array.dtype}")
    if array.ndim != 4 or array.shape[1] != 1:
        raise ValueError(f"explanations.maps[{key!r}].attribution must have shape (N, 1, S, S), got {array.shape}")
    return array.astype(np.float32, copy=False)


def _attribution_shape(explanations: ExplanationSet) -> tuple[int, ...]:
    shapes = {key: _attribution(explanations, key).shape for key in explanations.maps}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"explanations' attributions must all have one shape, got {shapes}")
    return next(iter(shapes.values()))


def _json_value(value: Any, name: str) -> Any:
    """``value`` unchanged if strict JSON can hold it (no NaN/inf), else a clear error."""
    try:
        json.dumps(value, allow_nan=False)
    except TypeError as error:
        raise TypeError(
            f"{name} must be JSON-serialisable (str, int, float, bool, None, lists and dicts of them), "
            f"got {type(value).__name__} {value!r:.80} ({error})"
        ) from error
    except ValueError as error:
        raise ValueError(f"{name} must be JSON-serialisable without NaN or inf, got {value!r:.80} ({error})") from error
    return value


def _real_1d(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must have shape (T,), got shape {array.shape}")
    return array


# --- parameters --------------------------------------------------------------


def _layer_name(layer: Any) -> str | None:
    """The Grad-CAM layer's qualified class name, ``None`` for the model's default ``gradcam_layer``."""
    if layer is None:
        return None
    kind = type(layer)
    return f"{kind.__module__}.{kind.__qualname__}"


def export_parameters(explanations: ExplanationSet, **context: Any) -> dict[str, Any]:
    """What was explained and how, as a JSON-serialisable dict.

    Args:
        explanations: the maps to describe.
        **context: the caller's facts (e.g. ``source="DEMO-A"``,
            ``window_end="2024-01-02T15:00:00Z"``, ``model_card_sha256="..."``);
            each value must be strict JSON (str, int, float, bool, None, lists
            and dicts of them; no NaN/inf).

    Returns:
        ``{"methods": [{"key", "label", "captum_class"}, ...], "target_kind": str, "target":
        [N values], "gradcam": {"layer": qualified class name or None (the
        model's default gradcam_layer), "relu": bool, "upsample": str},
        "attribution_shape": [N, 1, S, S], "context": {...},
        "library_versions": {...}, "created": ISO 8601 UTC}``.

    Raises:
        TypeError: ``explanations`` not an ExplanationSet; a context value JSON
            cannot hold. ValueError: a NaN/inf context value; maps of unequal shapes.
    """
    explanations = _explanations(explanations)
    checked = {key: _json_value(value, f"context value {key!r}") for key, value in context.items()}
    options = explanations.gradcam
    return {
        "methods": [
            {"key": key, "label": item.label, "captum_class": METHODS[key].captum_name}
            for key, item in explanations.maps.items()
        ],
        "target_kind": str(explanations.target_kind),
        "target": np.asarray(explanations.target).tolist(),
        "gradcam": {"layer": _layer_name(options.layer), "relu": bool(options.relu), "upsample": options.upsample},
        "attribution_shape": list(_attribution_shape(explanations)),
        "context": checked,
        "library_versions": library_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def params_json(params: dict[str, Any]) -> bytes:
    """``params`` as pretty (indent 2), key-sorted UTF-8 JSON ending in a newline.

    Raises:
        TypeError: ``params`` not a dict, or holding what JSON cannot.
        ValueError: NaN or inf inside.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    _json_value(params, "params")
    return (json.dumps(params, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# --- NPZ ---------------------------------------------------------------------


def _npz_arrays(
    explanations: ExplanationSet, per_time: Mapping[str, Any] | None, params: dict[str, Any]
) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for key, item in explanations.maps.items():
        if key in NPZ_RESERVED or _SUFFIX_SEPARATOR in key:
            raise ValueError(f"method key must not be {NPZ_RESERVED} nor contain {_SUFFIX_SEPARATOR!r}, got {key!r}")
        arrays[key] = _attribution(explanations, key)
        if item.layer_map is not None:
            arrays[f"{key}__layer_map"] = np.asarray(item.layer_map, dtype=np.float32)
    if per_time is not None:
        if not isinstance(per_time, Mapping):
            raise TypeError(f"per_time must be a mapping of method key to array, got {type(per_time).__name__}")
        for key, value in per_time.items():
            if key not in explanations.maps:
                raise ValueError(
                    f"per_time keys must be methods of explanations {list(explanations.maps)}, got {key!r}"
                )
            array = np.asarray(value)
            if array.dtype.kind not in "iuf":
                raise TypeError(f"per_time[{key!r}] must be an array of real numbers, got dtype {array.dtype}")
            arrays[f"{key}__per_time"] = array
    target = np.asarray(explanations.target)
    if target.dtype.kind not in "iuf":
        raise TypeError(f"explanations.target must be real numbers, got dtype {target.dtype}")
    arrays["target"] = target
    arrays["params_json"] = np.array(params_json(params).decode("utf-8"))  # 0-d unicode, not an object array
    return arrays


def attributions_npz(
    explanations: ExplanationSet,
    *,
    per_time: Mapping[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> bytes:
    """Every raw map in one compressed ``.npz``, built in memory.

    Entries: ``"<key>"`` ``(N, 1, S, S) float32`` per method;
    ``"<key>__layer_map"`` ``(N, 1, h, w) float32`` where the method has one
    (Grad-CAM); ``"<key>__per_time"`` (as given, e.g. ``(T,)`` or ``(N, T)``)
    where ``per_time`` has the key; ``"target"`` ``(N,)``; ``"params_json"``
    a 0-d unicode array holding :func:`params_json` of ``params`` (default:
    :func:`export_parameters` of ``explanations``).
    Read back with ``np.load(io.BytesIO(data), allow_pickle=False)``.

    Raises:
        TypeError: wrong types, non-real arrays. ValueError: a ``per_time`` key
        that is not one of the methods, a method key that collides with an entry name.
    """
    explanations = _explanations(explanations)
    params = export_parameters(explanations) if params is None else params
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_npz_arrays(explanations, per_time, params))
    return buffer.getvalue()


# --- CSV ---------------------------------------------------------------------


def attributions_csv(explanations: ExplanationSet, *, input_index: int = 0) -> bytes:
    """One input's maps as long-format UTF-8 CSV.

    Args:
        explanations: the maps, ``(N, 1, S, S)`` each.
        input_index: which input, ``0 <= input_index < N``.

    Returns:
        Header ``method,row,col,value``, then ``S * S`` rows per method (in
        the methods' order, row-major): the method key, the pixel's row and
        column (row 0 at the top of the image) and the raw float32 value
        written with 9 significant digits (it reads back to the same float32).
    """
    explanations = _explanations(explanations)
    n_inputs, _, size, _ = _attribution_shape(explanations)
    if isinstance(input_index, bool) or not isinstance(input_index, (int, np.integer)):
        raise TypeError(f"input_index must be an int, got {type(input_index).__name__} {input_index!r}")
    if not 0 <= input_index < n_inputs:
        raise ValueError(f"input_index must be in [0, {n_inputs}) (one per input), got {int(input_index)}")
    rows, cols = np.divmod(np.arange(size * size), size)
    frames = [
        pd.DataFrame(
            {
                "method": key,
                "row": rows,
                "col": cols,
                "value": _attribution(explanations, key)[input_index, 0].reshape(-1),
            }
        )
        for key in explanations.maps
    ]
    text = pd.concat(frames, ignore_index=True).to_csv(index=False, float_format=_FLOAT32_FORMAT, lineterminator="\n")
    return text.encode("utf-8")


def per_time_csv(per_time: Mapping[str, Any], times: Sequence[Any] | pd.Index) -> bytes:
    """Time profiles as wide UTF-8 CSV.

    Args:
        per_time: method key -> ``(T,)`` real array.
        times: ``T`` labels of the rows (e.g. the price window's index).

    Returns:
        Header ``time,<key>,...``, one row per time. Floats are written with
        the shortest text that reads back to the same value.
    """
    if not isinstance(per_time, Mapping):
        raise TypeError(f"per_time must be a mapping of method key to array, got {type(per_time).__name__}")
    if not per_time:
        raise ValueError("per_time must hold at least 1 method, got an empty mapping")
    if isinstance(times, (str, bytes)) or not isinstance(times, (Sequence, pd.Index, np.ndarray)):
        raise TypeError(f"times must be a sequence or pandas Index of T labels, got {type(times).__name__}")
    columns: dict[str, Any] = {"time": pd.Index(times)}
    for key, value in per_time.items():
        if key == "time":
            raise ValueError("per_time keys must not be 'time' (the first column's name), got 'time'")
        array = _real_1d(value, f"per_time[{key!r}]")
        if len(array) != len(times):
            raise ValueError(f"per_time[{key!r}] must have one value per time ({len(times)}), got {len(array)}")
        columns[str(key)] = array
    return pd.DataFrame(columns).to_csv(index=False, lineterminator="\n").encode("utf-8")
