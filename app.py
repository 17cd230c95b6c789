"""Entry point: ``streamlit run app.py``. Navigation only; pages live in ``pages/``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Chart XAI", page_icon="📈", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/ticker.py", title="Ticker", icon="📈", url_path="ticker"),
        st.Page("pages/nifty_day.py", title="NIFTY day", icon="🗓️", url_path="nifty"),
        st.Page("pages/what_if.py", title="What if", icon="🎚️", url_path="what-if"),
        st.Page("pages/evaluate.py", title="Evaluate", icon="🧪", url_path="evaluate"),
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
        st.Page("pages/data_explorer.py", title="Data", icon="🗂️", url_path="data"),
    ]
)
navigation.run()
