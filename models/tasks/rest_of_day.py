"""The rest-of-day task: after the first hour, will the day still rise — close above the first hour's close?

The paper's label (day close > day open) contains the first hour's own move: on real NIFTY 50 data
2012–2023 the rule "up if the first hour closes above the open" is right on 70.6 % of days, so a
classifier of the first hour mostly re-reads its input. This task asks the forecasting question the
first hour does not already answer: is the day's last close above the close of its first hour? The
same model, inputs, split and explanations as :class:`~models.tasks.up_day.UpDayTask`; only the
label, and so the baselines' figures, differ (the first-hour direction rule is now a momentum
rule: the rest of the day continues the first hour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models.tasks.up_day import UpDayTask

if TYPE_CHECKING:
    from data.windows import NiftyDays


class RestOfDayTask(UpDayTask):
    """Does the rest of the day rise (day close > first-hour close)? A two-class classifier."""

    name = "nifty-rest"
    title = "NIFTY rest of day — will the day close above its first hour's close?"

    def labels(self, days: NiftyDays) -> np.ndarray:
        """``(D,) int64``: 1 when the day's last close is above the close of its first hour's last minute."""
        return (days.last_close > days.first_hour_close[:, -1]).astype(np.int64)
