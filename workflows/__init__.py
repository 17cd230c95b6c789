"""Workflows: what a page or a command asks for, built from the packages below (no Streamlit here).

The layers, each importing only those to its left::

    data → models (with the task objects) → xai (the engine) → workflows → pages

``xai`` holds functions of models and tensors that a researcher can use without this app; the
workflows know the app's data and questions:

* :mod:`workflows.window` — one window predicted, explained and projected onto time, for the
  Ticker and NIFTY-day pages; the model's sanity table and a window's trust-score table.
* :mod:`workflows.range_evaluation` — a date range of a checkpoint's samples explained and scored
  (bands, agreement, deletion/insertion, sanity check, localisation), for the Evaluate page;
  :mod:`workflows.range_tables` and :mod:`workflows.range_figures` — its tables and figures.
* :mod:`workflows.planted` — the demo market's planted patterns as each task's ground truth.
"""
