"""Keeps a worker alive whatever a message holds: anything that fails goes to the dead letters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fillstream import metrics
from fillstream.agents.record import Record
from fillstream.streams import topics
from fillstream.streams.codec import BadMessage, dead_letter, encode

logger = logging.getLogger(__name__)


def record_time(record: Record) -> datetime:
    return datetime.fromtimestamp(record.timestamp, UTC)


def event_time(record: Record, claimed: datetime | None, max_skew: timedelta) -> datetime:
    """The input's own time, unless it is missing or more than ``max_skew`` ahead of the time
    Kafka recorded: an order dated next year would slip past the duplicate window, a tick dated
    next year would move the partition's clock. Earlier times are kept, so history can be
    replayed (stamping records with old times instead would let retention delete them)."""
    recorded = record_time(record)
    if claimed is None:
        return recorded
    if claimed - recorded > max_skew:
        metrics.CLOCK_SKEW_REPLACED.labels(record.topic).inc()
        return recorded
    return claimed


def require_key(record: Record, expected: str, field: str) -> None:
    """Partitioning relies on the key: a message keyed otherwise lands beside the wrong state."""
    if record.key != expected.encode():
        shown = record.key.decode("utf-8", "replace") if record.key is not None else None
        raise BadMessage(f"key {shown!r} must equal {field} {expected!r}")


async def guarded(record: Record, handle: Callable[[Record], Awaitable[None]]) -> None:
    try:
        await handle(record)
    except BadMessage as error:
        await _send_dead_letter(record, str(error))
    except Exception as error:
        logger.exception("failed on %s@%s", record.progress_key, record.offset)
        await _send_dead_letter(record, f"internal error: {type(error).__name__}: {error}")


async def _send_dead_letter(record: Record, error: str) -> None:
    letter = dead_letter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        error=error,
        ts=record_time(record),
    )
    await topics.dead_letters.send(key=record.key, value=encode(letter))
    metrics.DEAD_LETTERS.labels(record.topic).inc()
    metrics.MESSAGES_OUT.labels(topics.dead_letters.get_topic_name()).inc()
