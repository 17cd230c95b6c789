"""The alert service of the first source paper, in the dashboard's form: a watchlist checked on a
schedule by the CNN-LSTM, every alert kept in a SQLite store with its heat maps.

* :mod:`alerts.entries` — a watch entry and its validation.
* :mod:`alerts.store` — the SQLite store (WAL, versioned schema, unique alerts).
* :mod:`alerts.calendars` — when a symbol's market is open (``exchange_calendars``; the demo's own).
* :mod:`alerts.check` — one check: every due entry, batched, stored, notified.
* :mod:`alerts.notify` — notifications through ``apprise``, retried and recorded.
* :mod:`alerts.service` — the checker's loop and its lock; :mod:`alerts.replay` — the demo replayed.

``python -m alerts {check,watch,replay,add,list}``. Importing the package starts nothing.
"""
