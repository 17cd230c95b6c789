"""The Evaluate page's tables of a range evaluation: one row per method, display column names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xai.aggregate import Band, PeakSummary
from xai.methods import method_label
from xai.sanity import SanityResult

if TYPE_CHECKING:
    from workflows.range_results import FaithfulnessSummary, LocalisationSummary


def _span(labels: tuple[str, ...], region: tuple[int, int]) -> str:
    start, stop = region
    if start < 0:
        return "—"
    return labels[start] if stop - start == 1 else f"{labels[start]} – {labels[stop - 1]}"


def peak_table(peaks: dict[str, PeakSummary], labels: tuple[str, ...], explained: int) -> pd.DataFrame:
    """One row per method; ``samples`` counts the maps with any weight out of the ``explained`` ones."""
    rows = []
    for key, peak in peaks.items():
        rows.append(
            {
                "method": method_label(key),
                "peak": labels[peak.peak] if peak.peak >= 0 else "—",
                "half-maximum region": _span(labels, peak.region),
                "middle-third share": peak.middle_share,
                "95 % low": float(peak.thirds.low[1]),
                "95 % high": float(peak.thirds.high[1]),
                "samples": peak.n,
                "all-zero maps left out": explained - peak.n,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def sanity_table(result: SanityResult) -> pd.DataFrame:
    columns = [name if i == 0 else f"+ {name}" for i, name in enumerate(result.layers)]
    table = pd.DataFrame(
        {method_label(key): values for key, values in result.correlation.items()}, index=columns, dtype=np.float64
    ).T
    table["mean"] = [float(np.nanmean(values)) if np.isfinite(values).any() else np.nan for values in table.to_numpy()]
    table["barely changes"] = [result.barely_changes[key] for key in result.correlation]
    table.index.name = "method"
    return table


def faithfulness_table(summary: FaithfulnessSummary) -> pd.DataFrame:
    random_deletion = float(summary.random_deletion_auc.mean())
    random_insertion = float(summary.random_insertion_auc.mean())
    rows = []
    for key in summary.deletion:
        deletion = float(summary.deletion_auc[key].mean())
        insertion = float(summary.insertion_auc[key].mean())
        better = [
            name
            for name, ok in (("deletion", deletion < random_deletion), ("insertion", insertion > random_insertion))
            if ok
        ]
        row = {
            "method": method_label(key),
            "deletion AUC ↓": deletion,
            "random deletion": random_deletion,
            "insertion AUC ↑": insertion,
            "random insertion": random_insertion,
            "better than random": " and ".join(better) if better else "neither",
        }
        price = summary.price_space
        if price is not None:
            price_deletion = float(price.deletion_auc[key].mean())
            row["price-space deletion ↓"] = price_deletion
            row["random, price space"] = float(price.random_deletion_auc.mean())
            row["price-space insertion ↑"] = float(price.insertion_auc[key].mean())
            row["random insertion, price space"] = float(price.random_insertion_auc.mean())
            beats = price_deletion < row["random, price space"]
            row["pixels and price space agree"] = "yes" if beats == (deletion < random_deletion) else "no"
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def _band_text(band: Band) -> str:
    if not np.isfinite(band.low[0]):
        return "—"
    return f"[{band.low[0]:+.3f}, {band.high[0]:+.3f}]"


def localisation_table(summary: LocalisationSummary | None) -> pd.DataFrame:
    if summary is None:
        return pd.DataFrame()
    rows = []
    for key, flat in summary.uniform.items():
        habit = summary.habit[key] if summary.habit is not None else None
        other = summary.other_days[key]
        relied = summary.reliance
        rows.append(
            {
                "method": method_label(key),
                "samples with a pattern": flat.n,
                "relied on (of those with a pattern)": (
                    f"{int(relied.relied.sum())} of {len(relied.rows)}" if relied is not None else "—"
                ),
                "share, all pattern samples": (
                    summary.unfiltered[key].mean_share if summary.unfiltered is not None else np.nan
                ),
                "share": flat.mean_share,
                "chance: flat map": flat.mean_chance_share,
                "share − flat (95 %)": _band_text(flat.excess_band()),
                "chance: habit": habit.mean_chance_share if habit is not None else np.nan,
                "share − habit (95 %)": _band_text(habit.excess_band()) if habit is not None else "—",
                "chance: other days": other.mean_chance_share,
                "hit rate": flat.hit_rate,
                "chance hit rate": flat.chance_hit_rate,
                "hit p-value": flat.hit_p_value,
            }
        )
    return pd.DataFrame(rows).set_index("method")
