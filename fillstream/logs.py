"""Log lines for people or for log shippers: with `log_format = "json"`, one JSON object per line,
carrying the account, order, topic, partition and offset of the record a line is about where
known; either way the configured secrets are blanked out (`Settings.redact`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

CONTEXT = ("account_id", "order_id", "topic", "partition", "offset")
"""Passed to a log call as ``extra``: the fields a JSON line carries besides its message."""
TEXT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"


class JsonLines(logging.Formatter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        line.update({name: getattr(record, name) for name in CONTEXT if hasattr(record, name)})
        if record.exc_info:
            line["error"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class Redacted(logging.Formatter):
    """The text format, secrets blanked out."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__(TEXT)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def formatter(log_format: str, redact: Callable[[str], str]) -> logging.Formatter:
    return JsonLines(redact) if log_format == "json" else Redacted(redact)


def use(handlers: Iterable[logging.Handler], log_format: str, redact: Callable[[str], str]) -> None:
    """Every handler given writes in the chosen format."""
    chosen = formatter(log_format, redact)
    for handler in handlers:
        handler.setFormatter(chosen)


def about(topic: str, partition: int, offset: int, key: bytes | None) -> dict[str, Any]:
    """The ``extra`` of a log call about one input record: its place, and the account it is
    keyed by when its topic is keyed by account."""
    context: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset}
    if key is not None and topic.rsplit(".", 1)[-1] in ("orders", "accounts", "controls"):
        context["account_id"] = key.decode(errors="replace")
    return context
