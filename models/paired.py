"""Paired comparisons of a model with each baseline on the same test samples, and the verdict.

Both are asked about the *same* samples, so the comparison is paired: every bootstrap resample
draws one set of sample indices and computes the model's and the baseline's figure on it
(circular moving blocks, :func:`models.evaluation.block_bootstrap_indices`, which keep the
serial correlation of neighbouring samples).

* Accuracy (a classifier): the difference model − baseline with its paired 95 % interval, and
  the exact McNemar test (a two-sided binomial test on the samples where exactly one of the two
  is right; SciPy's ``binomtest``).
* RMSE (a regressor): the ratio model / baseline with its paired 95 % interval.

The model *beats* a baseline when the interval excludes "no difference" on the model's side
(difference > 0, ratio < 1). It beats the baselines when it beats every one, in particular the
strongest — the one with the best figure on the test split. :func:`verdict` says so in words, or
names the baselines it does not beat.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from data.checks import check_int

#: Bootstrap resamples of every paired interval.
N_BOOT = 2000


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """The model against one baseline on the same samples.

    Attributes:
        statistic: what ``value`` is, in words.
        value: the statistic on the test samples.
        ci95: its paired percentile 95 % interval.
        no_difference: the statistic's value when the two are equally good (0 or 1).
        model_better: the interval lies wholly on the model's side of ``no_difference``.
        p_value: the exact McNemar test's p-value (accuracy only), else ``None``.
    """

    statistic: str
    value: float
    ci95: tuple[float, float]
    no_difference: float
    model_better: bool
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "value": float(self.value),
            "ci95": [float(self.ci95[0]), float(self.ci95[1])],
            "no_difference": self.no_difference,
            "model_better": bool(self.model_better),
            "p_value": None if self.p_value is None else float(self.p_value),
        }


def _paired_bootstrap(
    n: int, statistic: Callable[[np.ndarray], np.ndarray], *, block: int, n_boot: int, seed: int
) -> tuple[float, float]:
    from models.evaluation import block_bootstrap_indices, usable_block

    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    values = np.concatenate(
        [
            statistic(block_bootstrap_indices(n, usable_block(block, n), min(200, n_boot - start), rng))
            for start in range(0, n_boot, 200)
        ]
    )
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def mcnemar_p(model_hits: np.ndarray, baseline_hits: np.ndarray) -> float:
    """Exact two-sided McNemar p-value: a binomial test (p = ½) on the discordant samples (1.0 when none)."""
    only_model = int(np.sum(model_hits & ~baseline_hits))
    only_baseline = int(np.sum(~model_hits & baseline_hits))
    if only_model + only_baseline == 0:
        return 1.0
    return float(stats.binomtest(only_model, only_model + only_baseline, 0.5).pvalue)


def compare_accuracy(
    model_hits: Any, baseline_hits: Any, *, block: int = 5, n_boot: int = N_BOOT, seed: int = 0
) -> PairedComparison:
    """Accuracy difference model − baseline from ``(N,) bool`` right/wrong per sample, paired."""
    model_hits, baseline_hits = np.asarray(model_hits, dtype=bool), np.asarray(baseline_hits, dtype=bool)
    if model_hits.shape != baseline_hits.shape or model_hits.ndim != 1 or len(model_hits) < 2:
        raise ValueError(
            f"model_hits and baseline_hits must be (N >= 2,) over the same samples, "
            f"got {model_hits.shape} and {baseline_hits.shape}"
        )
    difference = (model_hits.astype(np.float64) - baseline_hits).astype(np.float64)
    low, high = _paired_bootstrap(
        len(difference), lambda idx: difference[idx].mean(axis=1), block=block, n_boot=n_boot, seed=seed
    )
    return PairedComparison(
        statistic="accuracy difference (model − baseline)",
        value=float(difference.mean()),
        ci95=(low, high),
        no_difference=0.0,
        model_better=low > 0,
        p_value=mcnemar_p(model_hits, baseline_hits),
    )


def compare_rmse(
    model_squared_errors: Any, baseline_squared_errors: Any, *, block: int = 50, n_boot: int = N_BOOT, seed: int = 0
) -> PairedComparison:
    """RMSE ratio model / baseline from ``(N,)`` squared errors per sample, paired.

    The ratio is undefined (``nan``, never "better") when the baseline has no error on a resample.
    """
    model_sq = np.asarray(model_squared_errors, dtype=np.float64)
    baseline_sq = np.asarray(baseline_squared_errors, dtype=np.float64)
    if model_sq.shape != baseline_sq.shape or model_sq.ndim != 1 or len(model_sq) < 2:
        raise ValueError(
            f"the squared errors must be (N >= 2,) over the same samples, got {model_sq.shape} and {baseline_sq.shape}"
        )

    def ratio(idx: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sqrt(model_sq[idx].mean(axis=-1) / baseline_sq[idx].mean(axis=-1))

    value = float(ratio(np.arange(len(model_sq))))
    low, high = _paired_bootstrap(len(model_sq), ratio, block=block, n_boot=n_boot, seed=seed)
    defined = np.isfinite([value, low, high]).all()
    return PairedComparison(
        statistic="RMSE ratio (model / baseline)",
        value=value,
        ci95=(low, high),
        no_difference=1.0,
        model_better=bool(defined and high < 1),
    )


def strongest(baselines: Sequence[dict[str, Any]], figure: str, lower_is_better: bool) -> dict[str, Any]:
    """The baseline entry with the best ``figure`` on the test split (the first on a tie)."""
    if not baselines:
        raise ValueError("baselines must hold at least one entry, got none")
    sign = 1.0 if lower_is_better else -1.0
    return min(baselines, key=lambda entry: sign * entry[figure])


def verdict(model_words: str, baselines: Sequence[dict[str, Any]], best: dict[str, Any]) -> tuple[bool, str]:
    """Whether the model beats every baseline, and one sentence saying so.

    Args:
        model_words: the model's headline figure, in words (``"accuracy 0.69 (95 % CI …)"``).
        baselines: entries with ``name`` and ``paired`` (:meth:`PairedComparison.to_json`).
        best: the strongest entry (:func:`strongest`).
    """
    paired = best["paired"]
    low, high = paired["ci95"]
    form = "+.3f" if paired["no_difference"] == 0 else ".3f"
    versus = (
        f"{model_words} vs the strongest baseline, {best['name']}: {paired['statistic']} "
        f"{paired['value']:{form}} (paired 95 % CI {low:{form}} to {high:{form}}"
        + (f", McNemar p = {paired['p_value']:.3g}" if paired.get("p_value") is not None else "")
        + ")"
    )
    not_beaten = [entry["name"] for entry in baselines if not entry["paired"]["model_better"]]
    if not not_beaten:
        return True, f"{versus}: beats every baseline ({len(baselines)})"
    return False, f"{versus}: does NOT beat {len(not_beaten)} of {len(baselines)} baselines — " + "; ".join(not_beaten)
