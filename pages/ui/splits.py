"""The split mark every explained window or day carries: train, validation or test of the active model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data import DataError
from models.checkpoints import LoadedCheckpoint
from models.datasets import load_samples
from pages.ui.shared import cached_model
from workflows.splits import SplitSpan, split_mark, split_spans


@st.cache_data(show_spinner="Finding the model's splits…", max_entries=8)
def model_split_spans(folder: str, task: str, source: str) -> tuple[SplitSpan, ...]:
    """The chronological split of ``source`` for the checkpoint in ``folder`` (cached per model and data)."""
    return split_spans(load_samples(cached_model(folder, task).spec, source, files=False))


def show_split_mark(folder: str, loaded: LoadedCheckpoint, source: str, time: pd.Timestamp, noun: str) -> None:
    """Say which of the model's splits this sample is in; a warning outside the test split."""
    spans = None
    if source == loaded.card.data.source:
        try:
            spans = model_split_spans(folder, loaded.task.name, source)
        except DataError as error:
            st.caption(f"The model's train / validation / test split of this data could not be found: {error}")
            return
    mark = split_mark(time, source, loaded.card, spans, noun)
    with st.container(key="split_mark"):
        (st.warning if mark.warn else st.caption)(("⚠️ " if mark.warn else "🧪 ") + mark.words)
