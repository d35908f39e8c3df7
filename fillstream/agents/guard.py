"""Keeps a worker alive whatever a message holds: anything that fails goes to the dead letters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from faust.types import EventT

from fillstream.streams import topics
from fillstream.streams.codec import BadMessage, dead_letter, encode

logger = logging.getLogger(__name__)


def message_time(event: EventT) -> datetime:
    return datetime.fromtimestamp(event.message.timestamp, UTC)


def require_key(event: EventT, expected: str, field: str) -> None:
    """Partitioning relies on the key: a message keyed otherwise lands beside the wrong state."""
    key = event.message.key
    if key != expected.encode():
        shown = key.decode("utf-8", "replace") if key is not None else None
        raise BadMessage(f"key {shown!r} must equal {field} {expected!r}")


async def guarded(event: EventT, handle: Callable[[EventT], Awaitable[None]]) -> None:
    try:
        await handle(event)
    except BadMessage as error:
        await _send_dead_letter(event, str(error))
    except Exception as error:
        logger.exception(
            "failed on %s[%s]@%s",
            event.message.topic,
            event.message.partition,
            event.message.offset,
        )
        await _send_dead_letter(event, f"internal error: {type(error).__name__}: {error}")


async def _send_dead_letter(event: EventT, error: str) -> None:
    message = event.message
    letter = dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        error=error,
        ts=message_time(event),
    )
    await topics.dead_letters.send(key=message.key, value=encode(letter))
