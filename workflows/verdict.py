"""A verdict per map for the window on screen: does it follow the model's own behaviour?

Three questions per method, each answered with a number (no Streamlit here):

* **occlusion in time** — does the map rank the bars (minutes) as the model's own behaviour does
  when each one is removed in price space (:func:`xai.price_space.occlusion_in_time`)? Spearman's
  ρ between the map's time profile and occlusion's (a GADF profile is mass, so against
  ``|occlusion|``); agrees at ρ ≥ :data:`AGREES`, disagrees at ρ ≤ 0.
* **price-space deletion** — does flattening the map's top bars first move the answer faster than
  flattening random ones (:func:`xai.price_space.price_space_curves`: a deletion area below the
  random orders')?
* **sanity** — does the map change when the model's weights are destroyed (the checkpoint's
  model-randomisation mean below :data:`xai.sanity.UNCHANGED_CORRELATION`)?

and, beside them, how many of the other maps it agrees with (ρ ≥ :data:`AGREES`). The verdict:
*follows the model here* when both behavioural tests pass, *partly* when one does, *does not*
when neither does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from models.checkpoints import LoadedCheckpoint
from workflows.window import WindowExplanation, window_price_curves
from xai.methods import method_label
from xai.price_space import Occlusion, PriceSpaceCurves, occlusion_in_time
from xai.sanity import UNCHANGED_CORRELATION, spearman

#: Rank correlation from which two time profiles are said to agree.
AGREES = 0.3


@dataclasses.dataclass(frozen=True)
class WindowTrust:
    """The model's own behaviour on one window: occlusion in time and each map's price-space curves."""

    occlusion: Occlusion
    curves: PriceSpaceCurves

    @property
    def seconds(self) -> float:
        return self.occlusion.seconds + self.curves.seconds


@dataclasses.dataclass(frozen=True)
class MethodVerdict:
    """One map's verdict: ``sentence`` in plain words, ``numbers`` behind it (label → value)."""

    method: str
    follows: str
    sentence: str
    numbers: dict[str, float]


def window_trust(
    loaded: LoadedCheckpoint, bars: np.ndarray, result: WindowExplanation, curves: PriceSpaceCurves | None = None
) -> WindowTrust:
    """Occlusion in time and price-space deletion / insertion of ``result``'s maps on ``bars`` (``(W, 4)``);
    ``curves``: those already computed (:func:`workflows.window.window_price_curves`)."""
    explained = np.asarray(result.explanations.target, dtype=np.int64)[:1]
    occlusion = occlusion_in_time(loaded, np.asarray(bars, dtype=np.float64)[None], explained)
    if curves is None:
        curves = window_price_curves(loaded, bars, result)
    return WindowTrust(occlusion=occlusion, curves=curves)


def _occlusion_profile(trust: WindowTrust, signed: bool) -> np.ndarray:
    profile = trust.occlusion.per_time[0]
    return profile if signed else np.abs(profile)


def verdicts(
    trust: WindowTrust, result: WindowExplanation, sanity_means: Mapping[str, float], *, unit: str = "bar"
) -> list[MethodVerdict]:
    """One :class:`MethodVerdict` per map of ``result`` (``sanity_means``: method → mean rank correlation
    over the randomisation cascade, a method missing there is reported as not checked; ``unit``: what a
    time step is called, ``"bar"`` or ``"minute"``)."""
    occluded = _occlusion_profile(trust, result.per_time_signed)
    methods = list(result.per_time)
    out = []
    for key in methods:
        profile = result.per_time[key]
        rho = spearman(profile, occluded)
        deletion_gain = float(trust.curves.deletion_gain(key)[0])
        insertion_gain = float(trust.curves.insertion_gain(key)[0])
        others = [spearman(profile, result.per_time[other]) for other in methods if other != key]
        agreeing = sum(1 for value in others if np.isfinite(value) and value >= AGREES)
        sanity = sanity_means.get(key, float("nan"))
        follows_occlusion = np.isfinite(rho) and rho >= AGREES
        beats_random = deletion_gain > 0
        passed = int(follows_occlusion) + int(beats_random)
        follows = ("does not follow", "partly follows", "follows")[passed]
        out.append(
            MethodVerdict(
                method=key,
                follows=follows,
                sentence=_sentence(key, follows, rho, beats_random, sanity, agreeing, len(others), unit + "s"),
                numbers={
                    "rank correlation with occlusion": rho,
                    "price-space deletion area": float(trust.curves.deletion_auc[key][0]),
                    "random orders' deletion area": float(trust.curves.random_deletion_auc[0]),
                    "price-space deletion gain over random": deletion_gain,
                    "price-space insertion gain over random": insertion_gain,
                    "sanity: rank correlation after randomisation": sanity,
                    f"other maps agreeing (ρ ≥ {AGREES:g})": float(agreeing),
                },
            )
        )
    return out


def _sentence(
    key: str,
    follows: str,
    rho: float,
    beats_random: bool,
    sanity: float,
    agreeing: int,
    n_others: int,
    steps: str,
) -> str:
    if not np.isfinite(rho):
        ranking = "its profile is flat, so it ranks nothing"
    elif rho >= AGREES:
        ranking = f"it ranks the {steps} as removing them does (ρ {rho:.2f})"
    elif rho <= 0:
        ranking = f"it does not rank the {steps} as removing them does (ρ {rho:.2f})"
    else:
        ranking = f"it ranks the {steps} only weakly as removing them does (ρ {rho:.2f})"
    faster = "faster" if beats_random else "no faster"
    deletion = f"flattening its top {steps} first moves the answer {faster} than flattening random ones"
    if not np.isfinite(sanity):
        checked = "the sanity check was not run"
    elif sanity < UNCHANGED_CORRELATION:
        checked = "it passes the sanity check"
    else:
        checked = f"it fails the sanity check (ρ {sanity:.2f} with the map of a destroyed model)"
    return (
        f"**{method_label(key)}** {follows} the model here: {ranking}; {deletion}; {checked}; "
        f"it agrees with {agreeing} of the {n_others} other maps."
    )


def verdict_table(found: list[MethodVerdict]) -> pd.DataFrame:
    """The numbers behind the verdicts, one row per method (display label)."""
    return pd.DataFrame({method_label(v.method): v.numbers for v in found}).T
