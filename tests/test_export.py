"""Tests of the raw-attribution exports (xai/export.py).

ExplanationSets are built by hand from small arrays (no model), including
float32 values that only survive a text round trip when printed with enough
digits (1/3, the largest float32, the smallest subnormal).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import json
import platform
import re

import captum
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai.explain import Explanation, ExplanationSet, GradCamOptions
from xai.export import (
    VERSIONED_LIBRARIES,
    _library_versions,
    attributions_csv,
    attributions_npz,
    export_parameters,
    library_versions,
    params_json,
    per_time_csv,
)
from xai.methods import METHODS

N, S, T = 2, 4, 5
HARD_FLOAT32 = np.array(
    [1 / 3, np.finfo(np.float32).max, np.finfo(np.float32).smallest_subnormal, -2.0 / 7, 1e-7, 0.1],
    dtype=np.float32,
)


def explanation(key: str, attribution: np.ndarray, layer_map: np.ndarray | None = None) -> Explanation:
    return Explanation(key, METHODS[key].label, attribution, layer_map, seconds=0.01)


@pytest.fixture
def explanations(rng: np.random.Generator) -> ExplanationSet:
    """Grad-CAM (with its layer map) and saliency for N = 2 inputs of S x S = 4 x 4."""
    gradcam = rng.normal(size=(N, 1, S, S)).astype(np.float32)
    saliency = (rng.normal(size=(N, 1, S, S)) * 1e-5).astype(np.float32)
    saliency.reshape(-1)[: HARD_FLOAT32.size] = HARD_FLOAT32
    layer_map = rng.normal(size=(N, 1, 2, 2)).astype(np.float32)
    return ExplanationSet(
        maps={
            "gradcam": explanation("gradcam", gradcam, layer_map),
            "saliency": explanation("saliency", saliency),
        },
        target=np.array([1, 0]),
        target_kind="class",
        gradcam=GradCamOptions(layer=nn.Conv2d(1, 1, 1), relu=True, upsample="nearest"),
    )


@pytest.fixture
def per_time(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"gradcam": rng.normal(size=T), "saliency": rng.normal(size=(N, T)) * 1e-3}


def load(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


# --- library_versions --------------------------------------------------------


def test_library_versions_names_the_installed_versions() -> None:
    versions = library_versions()
    assert list(versions) == ["python", *VERSIONED_LIBRARIES]
    assert set(VERSIONED_LIBRARIES) >= {"numpy", "pandas", "torch", "torchvision", "captum", "pyts", "plotly"}
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == importlib.metadata.version("torch")
    assert versions["torch"] == torch.__version__.split("+")[0]  # the module adds its build tag (e.g. +cu132)
    assert versions["captum"] == importlib.metadata.version("captum") == captum.__version__
    assert versions["numpy"] == np.__version__
    assert versions["pandas"] == pd.__version__


def test_library_versions_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version
    library_versions()["torch"] = "changed"  # read once per process, and each caller gets a copy
    assert library_versions()["torch"] == real("torch")

    def version(name: str) -> str:
        if name == "pyts":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    _library_versions.cache_clear()  # read once per process: forget the real look-up, and this one after
    try:
        versions = library_versions()
    finally:
        _library_versions.cache_clear()
    assert versions["pyts"] == "not installed"
    assert versions["torch"] == real("torch")


# --- export_parameters and params_json ---------------------------------------


def test_export_parameters(explanations: ExplanationSet) -> None:
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    params = export_parameters(explanations, source="DEMO-A", window_end="2024-01-03T15:30:00Z", card_sha256="ab12")
    after = dt.datetime.now(dt.timezone.utc)
    assert params["methods"] == [
        {"key": "gradcam", "label": "Grad-CAM", "captum_class": "Layer Grad Cam"},
        {"key": "saliency", "label": "Vanilla gradient (saliency)", "captum_class": "Saliency"},
    ]
    assert params["target_kind"] == "class"
    assert params["target"] == [1, 0]
    assert params["gradcam"] == {"layer": "torch.nn.modules.conv.Conv2d", "relu": True, "upsample": "nearest"}
    assert params["attribution_shape"] == [N, 1, S, S]
    assert params["context"] == {"source": "DEMO-A", "window_end": "2024-01-03T15:30:00Z", "card_sha256": "ab12"}
    assert params["library_versions"] == library_versions()
    created = dt.datetime.fromisoformat(params["created"])
    assert created.utcoffset() == dt.timedelta(0)
    assert before <= created <= after
    assert json.loads(json.dumps(params, allow_nan=False)) == params  # strict JSON as it stands


def test_export_parameters_default_layer_and_direction(explanations: ExplanationSet) -> None:
    regressor = ExplanationSet(
        maps={"gradcam": explanations.maps["gradcam"]},
        target=np.array([-1, -1]),
        target_kind="direction",
        gradcam=GradCamOptions(),
    )
    params = export_parameters(regressor)
    assert params["gradcam"] == {"layer": None, "relu": True, "upsample": "bilinear"}
    assert params["target"] == [-1, -1]
    assert params["target_kind"] == "direction"
    assert params["context"] == {}


@pytest.mark.parametrize(
    ("context", "error", "message"),
    [
        (
            {"window_end": pd.Timestamp("2024-01-03")},
            TypeError,
            "context value 'window_end' must be JSON-serialisable (str, int, float, bool, None, lists and dicts "
            "of them), got Timestamp",
        ),
        ({"rows": np.int64(3)}, TypeError, "context value 'rows' must be JSON-serialisable"),
        (
            {"gap": float("nan")},
            ValueError,
            "context value 'gap' must be JSON-serialisable without NaN or inf, got nan",
        ),
        ({"nested": {"a": [1, {2, 3}]}}, TypeError, "context value 'nested' must be JSON-serialisable"),
    ],
)
def test_export_parameters_rejects_context(
    explanations: ExplanationSet, context: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        export_parameters(explanations, **context)


def test_export_parameters_rejects(explanations: ExplanationSet) -> None:
    with pytest.raises(TypeError, match=re.escape("explanations must be an xai.explain.ExplanationSet, got dict")):
        export_parameters({"gradcam": explanations.maps["gradcam"]})
    uneven = ExplanationSet(
        maps={**explanations.maps, "deconvolution": explanation("deconvolution", np.zeros((N, 1, 8, 8), np.float32))},
        target=explanations.target,
        target_kind="class",
        gradcam=GradCamOptions(),
    )
    with pytest.raises(ValueError, match=re.escape("explanations' attributions must all have one shape")):
        export_parameters(uneven)


def test_params_json_round_trip(explanations: ExplanationSet) -> None:
    params = export_parameters(explanations, note="Synthetic demo data — not real market prices", threshold=1.5)
    data = params_json(params)
    assert isinstance(data, bytes)
    text = data.decode("utf-8")
    assert "—" in text  # UTF-8, not \u escapes
    assert text.endswith("}\n")
    assert json.loads(text) == params
    top_level = [line.split('"')[1] for line in text.splitlines() if line.startswith('  "')]
    assert top_level == sorted(params)
    assert '\n  "attribution_shape": [\n    2,' in text  # indented by 2


def test_params_json_rejects() -> None:
    with pytest.raises(TypeError, match=re.escape("params must be a dict, got list")):
        params_json([1])
    with pytest.raises(TypeError, match=re.escape("params must be JSON-serialisable")):
        params_json({"a": object()})
    with pytest.raises(ValueError, match=re.escape("params must be JSON-serialisable without NaN or inf")):
        params_json({"a": float("inf")})


# --- NPZ ---------------------------------------------------------------------


def test_npz_round_trip(explanations: ExplanationSet, per_time: dict[str, np.ndarray]) -> None:
    params = export_parameters(explanations, source="DEMO-A")
    loaded = load(attributions_npz(explanations, per_time=per_time, params=params))
    assert set(loaded) == {
        "gradcam",
        "gradcam__layer_map",
        "gradcam__per_time",
        "saliency",
        "saliency__per_time",
        "target",
        "params_json",
    }
    assert all(array.dtype.kind != "O" for array in loaded.values())
    for key, item in explanations.maps.items():
        assert loaded[key].dtype == np.float32
        assert loaded[key].shape == (N, 1, S, S)
        np.testing.assert_array_equal(loaded[key], item.attribution)
        np.testing.assert_array_equal(loaded[f"{key}__per_time"], per_time[key])
        assert loaded[f"{key}__per_time"].dtype == per_time[key].dtype
    np.testing.assert_array_equal(loaded["gradcam__layer_map"], explanations.maps["gradcam"].layer_map)
    np.testing.assert_array_equal(loaded["target"], [1, 0])
    assert loaded["params_json"].shape == ()
    assert loaded["params_json"].dtype.kind == "U"
    assert json.loads(str(loaded["params_json"])) == params


def test_npz_defaults(explanations: ExplanationSet) -> None:
    loaded = load(attributions_npz(explanations))
    assert set(loaded) == {"gradcam", "gradcam__layer_map", "saliency", "target", "params_json"}
    params = json.loads(str(loaded["params_json"]))
    assert params["methods"] == export_parameters(explanations)["methods"]
    assert params["context"] == {}


def test_npz_rejects(explanations: ExplanationSet) -> None:
    with pytest.raises(ValueError, match=re.escape("per_time keys must be methods of explanations")):
        attributions_npz(explanations, per_time={"deconvolution": np.ones(T)})
    with pytest.raises(TypeError, match=re.escape("per_time['gradcam'] must be an array of real numbers")):
        attributions_npz(explanations, per_time={"gradcam": np.array(["a"])})
    colliding = ExplanationSet(
        maps={"target": explanations.maps["saliency"]},
        target=explanations.target,
        target_kind="class",
        gradcam=GradCamOptions(),
    )
    with pytest.raises(ValueError, match=re.escape("method key must not be ('target', 'params_json')")):
        attributions_npz(colliding, params={})


# --- CSV ---------------------------------------------------------------------


def test_attributions_csv_known_text() -> None:
    tiny = ExplanationSet(
        maps={"gradcam": explanation("gradcam", np.array([[[[1.5, -2.0], [0.25, 3.0]]]], np.float32))},
        target=np.array([1]),
        target_kind="class",
        gradcam=GradCamOptions(),
    )
    expected = "method,row,col,value\ngradcam,0,0,1.5\ngradcam,0,1,-2\ngradcam,1,0,0.25\ngradcam,1,1,3\n"
    assert attributions_csv(tiny) == expected.encode("utf-8")


@pytest.mark.parametrize("input_index", [0, 1])
def test_attributions_csv_round_trip(explanations: ExplanationSet, input_index: int) -> None:
    data = attributions_csv(explanations, input_index=input_index)
    assert data.startswith(b"method,row,col,value\n")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8")
    assert list(frame.columns) == ["method", "row", "col", "value"]
    assert len(frame) == len(explanations.maps) * S * S
    assert list(frame["method"].unique()) == list(explanations.maps)
    for key, item in explanations.maps.items():
        rows = frame[frame["method"] == key]
        image = np.zeros((S, S), np.float32)
        image[rows["row"], rows["col"]] = rows["value"].to_numpy().astype(np.float32)
        np.testing.assert_array_equal(image, item.attribution[input_index, 0])
    # the hard float32 values survive the text round trip bit for bit
    saliency = frame[frame["method"] == "saliency"]["value"].to_numpy().astype(np.float32)
    if input_index == 0:
        assert saliency[: HARD_FLOAT32.size].tobytes() == HARD_FLOAT32.tobytes()


@pytest.mark.parametrize(
    ("input_index", "error", "message"),
    [
        (2, ValueError, "input_index must be in [0, 2) (one per input), got 2"),
        (-1, ValueError, "input_index must be in [0, 2) (one per input), got -1"),
        (True, TypeError, "input_index must be an int, got bool True"),
        (0.0, TypeError, "input_index must be an int, got float 0.0"),
    ],
)
def test_attributions_csv_rejects(
    explanations: ExplanationSet, input_index: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        attributions_csv(explanations, input_index=input_index)


def test_per_time_csv_round_trip(rng: np.random.Generator) -> None:
    times = pd.date_range("2024-01-03 09:15", periods=T, freq="min", tz="Asia/Kolkata")
    profiles = {"gradcam": rng.normal(size=T), "saliency": rng.normal(size=T).astype(np.float32) * 1e-6}
    data = per_time_csv(profiles, times)
    assert data.splitlines()[0] == b"time,gradcam,saliency"
    frame = pd.read_csv(io.BytesIO(data))
    assert pd.DatetimeIndex(pd.to_datetime(frame["time"])).tz_convert("Asia/Kolkata").equals(times)
    np.testing.assert_array_equal(frame["gradcam"].to_numpy(), profiles["gradcam"])  # float64, exactly
    np.testing.assert_array_equal(frame["saliency"].to_numpy().astype(np.float32), profiles["saliency"])


def test_per_time_csv_plain_labels() -> None:
    data = per_time_csv({"gradcam": np.array([0.5, -1.0, 0.0])}, ["09:15", "09:16", "09:17"])
    assert data == b"time,gradcam\n09:15,0.5\n09:16,-1.0\n09:17,0.0\n"


@pytest.mark.parametrize(
    ("per_time", "times", "error", "message"),
    [
        (
            {"gradcam": np.ones(3)},
            ["a", "b"],
            ValueError,
            "per_time['gradcam'] must have one value per time (2), got 3",
        ),
        (
            {"gradcam": np.ones((2, 2))},
            ["a", "b"],
            ValueError,
            "per_time['gradcam'] must have shape (T,), got shape (2, 2)",
        ),
        ({}, ["a"], ValueError, "per_time must hold at least 1 method, got an empty mapping"),
        ({"time": np.ones(1)}, ["a"], ValueError, "per_time keys must not be 'time'"),
        ({"gradcam": np.ones(1)}, "a", TypeError, "times must be a sequence or pandas Index of T labels, got str"),
        ([np.ones(1)], ["a"], TypeError, "per_time must be a mapping of method key to array, got list"),
    ],
)
def test_per_time_csv_rejects(per_time: object, times: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        per_time_csv(per_time, times)
