"""Explanations of a whole universe, written as a dataset: ``python -m batch explain``.

* :mod:`batch.universe` — the sources a run covers (demo symbols, files, a folder of files, tickers).
* :mod:`batch.dataset` — the dataset on disk: one Parquet partition and one map shard per source,
  written atomically, so a rerun skips what is finished and never sees half a partition.
* :mod:`batch.run` — the local engine: every window of every source, batched through the fused
  engine (:func:`xai.many.explain_many`, shared with the alert checker).
* :mod:`batch.on_ray` — the same run on Ray Data: an actor per worker loads the model once.

Importing the package starts nothing.
"""
