"""The unit every agent processes: one input message with its Kafka coordinates, and what it may
claim about itself (its key and its time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fillstream import metrics
from fillstream.wire.codec import BadMessage
from fillstream.wire.times import from_epoch


@dataclass(frozen=True)
class Input:
    """One input message, whether Faust delivered it or it was read back after a skip."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    """The Kafka record's time, in seconds since the epoch."""

    @property
    def progress_key(self) -> str:
        return f"{self.topic}#{self.partition}"

    @property
    def record_time(self) -> datetime:
        return from_epoch(self.timestamp)


def event_time(record: Input, claimed: datetime | None, max_skew: timedelta) -> datetime:
    """The input's own time, unless it is missing or more than ``max_skew`` ahead of the time
    Kafka recorded: an order dated next year would slip past the duplicate window, a tick dated
    next year would move the partition's clock. Earlier times are kept, so history can be
    replayed (stamping records with old times instead would let retention delete them)."""
    recorded = record.record_time
    if claimed is None:
        return recorded
    if claimed - recorded > max_skew:
        metrics.CLOCK_SKEW_REPLACED.labels(record.topic).inc()
        return recorded
    return claimed


def require_key(record: Input, expected: str, field: str) -> None:
    """Partitioning relies on the key: a message keyed otherwise lands beside the wrong state."""
    if record.key != expected.encode():
        shown = record.key.decode("utf-8", "replace") if record.key is not None else None
        raise BadMessage(f"key {shown!r} must equal {field} {expected!r}")
