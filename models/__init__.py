"""Models: one object per task, the two architectures, training, checkpoints and their typed cards.

The second layer (``data → models → xai → workflows → pages``): it imports ``data`` only.

* :mod:`models.tasks` — one :class:`~models.tasks.base.Task` per question a model answers
  (:class:`~models.tasks.UpDayTask`: up or down day, the ResNet classifier;
  :class:`~models.tasks.NextHourTask`: the next hour's close, the CNN-LSTM regressor). Everything
  that differs between them — inputs, the explained output and its target, the score, the
  prediction, the loss, the validation figure, the card's metrics, display words — lives there.
* :mod:`models.architectures` — the two networks and :class:`~models.architectures.ModelSpec`.
* :mod:`models.datasets` — a task's samples as tensors with their chronological split.
* :mod:`models.training`, :mod:`models.train` — the training loop and ``python -m models.train``.
* :mod:`models.card`, :mod:`models.checkpoints` — the typed model card and safe checkpoints.
* :mod:`models.evaluation`, :mod:`models.offset_correction` — metrics with baselines and intervals.
* :mod:`models.predict`, :mod:`models.what_if` — one window's prediction; a split's history at
  any threshold.
* :mod:`models.locks`, :mod:`models.random_draws` — sharing a model between sessions, and random
  draws that never touch the process's global generator.
"""
