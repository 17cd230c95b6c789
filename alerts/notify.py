"""Notifications through ``apprise`` — e-mail, Slack, Telegram, ntfy, webhooks… by URL — off by default.

The targets are apprise URLs kept in the store's settings (``notify_urls``, one per line; the
Alerts page edits them) or an apprise configuration file (``--notify-config``). Each new alert is
sent to each target with its PNG attached; a failed send is retried (:data:`ATTEMPTS` in all)
and every attempt is recorded in the store. The alert itself is stored before any of this: a
notification can fail, the alert is never lost.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from alerts.store import AlertStore, StoredAlert

#: The store's settings key holding the apprise URLs, one per line.
URLS_KEY = "notify_urls"
#: Sends per alert and target, the first included.
ATTEMPTS = 3
#: Seconds before the second attempt; doubled for each next one.
FIRST_BACKOFF_S = 2.0


def parse_urls(text: str) -> list[str]:
    """The non-empty, non-comment lines of ``text``.

    Raises:
        ValueError: a line apprise does not recognise as a notification URL (named, with what to do).
    """
    import apprise

    urls = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    for url in urls:
        if apprise.Apprise.instantiate(url) is None:
            raise ValueError(
                f"notification URL {redact(url)!r} is not one apprise knows: see "
                "https://github.com/caronc/apprise/wiki for the forms (mailto://, slack://, tgram://, ntfy://, json://…)"
            )
    return urls


def redact(url: str) -> str:
    """A URL without its secrets, for records and messages: ``scheme://host``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "(not a URL)"


@dataclasses.dataclass
class Notifier:
    """Sends new alerts to ``urls`` (and to the targets of ``config_file``, when given)."""

    urls: Sequence[str] = ()
    config_file: Path | None = None
    attempts: int = ATTEMPTS
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_store(cls, store: AlertStore, config_file: Path | None = None) -> Notifier | None:
        """The store's configured targets, or ``None`` when there are none (notifications off)."""
        urls = parse_urls(store.setting(URLS_KEY))
        return cls(urls=urls, config_file=config_file) if urls or config_file else None

    def __call__(self, store: AlertStore, alerts: Sequence[StoredAlert]) -> None:
        import apprise

        targets = [(url, redact(url)) for url in self.urls]
        if self.config_file is not None:
            targets.append((str(self.config_file), f"config {self.config_file.name}"))
        for alert in alerts:
            with tempfile.TemporaryDirectory() as folder:
                picture = Path(folder) / f"alert-{alert.id}.png"
                picture.write_bytes(alert.png)
                for target, label in targets:
                    sender = apprise.Apprise()
                    if target == str(self.config_file):
                        config = apprise.AppriseConfig()
                        config.add(target)
                        sender.add(config)
                    else:
                        sender.add(target)
                    self._send(store, sender, alert, label, picture)

    def _send(self, store: AlertStore, sender: object, alert: StoredAlert, label: str, picture: Path) -> None:
        title, body = message(alert)
        wait = FIRST_BACKOFF_S
        for attempt in range(1, self.attempts + 1):
            error = None
            try:
                ok = bool(sender.notify(body=body, title=title, attach=str(picture)))  # type: ignore[attr-defined]
                if not ok:
                    error = "the service refused or could not be reached"
            except Exception as failure:  # a notifier plug-in's error never loses the alert
                ok, error = False, f"{type(failure).__name__}: {failure}"
            store.record_notification(alert.id, attempt, label, ok, error)
            if ok:
                return
            if attempt < self.attempts:
                self.sleep(wait)
                wait *= 2


def message(alert: StoredAlert) -> tuple[str, str]:
    """The notification's title and body."""
    way = "rise" if alert.forecast_pct >= 0 else "fall"
    title = f"{alert.source}: predicted {way} of {alert.forecast_pct:+.2f} %"
    body = (
        f"The CNN-LSTM ({alert.model}) forecasts {alert.forecast_pct:+.2f} % for the hour after "
        f"{alert.window_end} (last close {alert.last_close:.4g}); your threshold: {alert.threshold_pct:g} % "
        f"({alert.direction}). The heat map (Grad-CAM) shows where the chart pushed the forecast that way."
    )
    return title, body
