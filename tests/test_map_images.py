"""Heat maps sent as PNG images (xai/map_images.py) and layouts kept per shape (xai/figure_parts.py).

Known answers: a map's pixels decoded from the comparison figure's PNG are the colours of its
values on the shared scale (the peak darkest red, zero white); the same figure twice is byte-for-byte
the same; a kept layout is the one plotly builds, with the titles put in.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from plotly.subplots import make_subplots

from xai.figure_parts import assemble, cached_layout
from xai.map_images import colorize, png_data_url
from xai.methods import METHODS
from xai.render import comparison_figure


def heatmaps(figure: go.Figure) -> tuple[list, list]:
    """(greyscale model images, attribution maps) of a comparison figure: its PNG layout images, in order."""
    images = list(figure.layout.images)
    return [i for i in images if i.name == "model image"], [i for i in images if i.name != "model image"]


def pixels(trace) -> np.ndarray:
    """The (H, W, 3) RGB pixels of a layout image's PNG data URL, decoded."""
    header, encoded = trace.source.split(",", 1)
    assert header == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"))


@pytest.fixture
def image(rng: np.random.Generator) -> np.ndarray:
    """An 8 x 8 candlestick-like raster with values in {-1, -0.5, 0, 0.5, 1}."""
    return rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(8, 8)).astype(np.float32)


def test_the_map_images_decode_to_the_colours_of_known_values() -> None:
    # a 4 x 4 map, 0 everywhere but +8 at (0, 0) and -8 at (3, 3): its robust peak is 8
    raw = np.zeros((4, 4))
    raw[0, 0], raw[3, 3] = 8.0, -8.0
    figure = comparison_figure(np.zeros((4, 4)), {"saliency": raw})
    _, (trace,) = heatmaps(figure)
    rgb = pixels(trace)
    assert tuple(rgb[0, 0]) == (103, 0, 31)  # +1 of peak: the darkest red of the signed scale
    assert tuple(rgb[3, 3]) == (5, 48, 97)  # -1: the darkest blue
    assert tuple(rgb[1, 2]) == (255, 255, 255)  # 0: white
    absolute = pixels(heatmaps(comparison_figure(np.zeros((4, 4)), {"saliency": raw}, mode="absolute"))[1][0])
    assert tuple(absolute[3, 3]) == (63, 0, 125)  # |-1|: the darkest purple
    # the same figure twice: byte-identical images (sessions compare charts byte for byte)
    assert comparison_figure(np.zeros((4, 4)), {"saliency": raw}).to_json() == figure.to_json()
    # a blank map is white everywhere, a map with something to show is not
    blank = pixels(heatmaps(comparison_figure(np.zeros((4, 4)), {"saliency": np.zeros((4, 4))}))[1][0])
    assert (blank == 255).all()
    assert not (rgb == 255).all()


def test_colorize_interpolates_between_stops_and_refuses_bad_input() -> None:
    scale = [[0.0, "rgb(0,0,0)"], [0.5, "rgb(100,200,0)"], [1.0, "rgb(255,255,255)"]]
    rgb = colorize(np.array([[-1.0, -0.5, 0.0, 0.5, 1.0, 7.0]]), scale, -1.0, 1.0)
    assert rgb.tolist() == [[[0, 0, 0], [50, 100, 0], [100, 200, 0], [178, 228, 128], [255, 255, 255], [255, 255, 255]]]
    with pytest.raises(ValueError, match=r"zmax must be above zmin, got zmin=1.0, zmax=1.0"):
        colorize(np.zeros((2, 2)), scale, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"colorscale colours must be 'rgb\(r,g,b\)' text, got 'red'"):
        colorize(np.zeros((2, 2)), [[0.0, "red"], [1.0, "rgb(1,2,3)"]], 0.0, 1.0)
    with pytest.raises(ValueError, match=r"pixels must be an \(H, W, 3\|4\) uint8 array, got float64 \(2, 2\)"):
        png_data_url(np.zeros((2, 2)))


# --- layouts kept per shape (xai/figure_parts.py) ----------------------------


def _two_rows(n_rows: int, title: str) -> go.Figure:
    figure = make_subplots(rows=n_rows, cols=1, subplot_titles=[str(row) for row in range(n_rows)])
    return figure.update_layout(title={"text": title}, height=100 * n_rows)


def test_a_kept_layout_is_the_one_plotly_builds_with_the_titles_put_in() -> None:
    fresh = make_subplots(rows=2, cols=1, subplot_titles=["price", "Saliency"])
    fresh.update_layout(title={"text": "T"}, height=200)
    kept = cached_layout(_two_rows, ["price", "Saliency"], "T")
    # the same figure (the default template put back), keys perhaps in another order
    assert json.loads(assemble([], kept).to_json()) == json.loads(fresh.to_json())
    kept["annotations"][0]["text"] = "changed"  # a copy: the next caller gets the kept layout untouched
    again = cached_layout(_two_rows, ["Grad-CAM", "price"], "T")
    assert [annotation["text"] for annotation in again["annotations"]] == ["Grad-CAM", "price"]
    with pytest.raises(ValueError, match=r"build must make a title annotation per subplot \(3\), got 2"):
        cached_layout(lambda n, title: _two_rows(2, title), ["a", "b", "c"], "T")


def test_the_comparison_titles_follow_the_methods_in_any_order(image: np.ndarray, rng: np.random.Generator) -> None:
    keys = ["saliency", "gradcam", "guided_backprop"]
    maps = {key: rng.normal(size=image.shape) for key in keys}
    forward = comparison_figure(image, maps)
    backward = comparison_figure(image, dict(reversed(maps.items())))
    assert [a.text for a in forward.layout.annotations] == [METHODS[key].label for key in keys]
    assert [a.text for a in backward.layout.annotations] == [METHODS[key].label for key in reversed(keys)]
    assert [trace.name for trace in heatmaps(backward)[1]] == [METHODS[key].label for key in reversed(keys)]
