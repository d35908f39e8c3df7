"""Times on the wire: ISO-8601 in UTC with millisecond precision and a ``Z``.

Every module that writes or reads a time as text goes through here, so the format has one
definition (the JSON Schemas' ``date-time``, and what ClickHouse's DateTime64(3) holds).
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO-8601 time with a zone (``Z`` or an offset), in UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return parsed.astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    """A Kafka record's time (seconds since the epoch) as a UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
