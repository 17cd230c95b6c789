"""Entry point: ``streamlit run app.py``. Navigation only; pages live in ``pages/``."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Chart XAI", page_icon="📈", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/data_explorer.py", title="Data", icon="🗂️", url_path="data"),
    ]
)
navigation.run()
