"""The Faust internals the worker needs, in one place, each with the reason no public API does.

An upgrade of faust-streaming checks this module and nothing else.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

import faust
from faust.streams import _current_event
from faust.types import EventT, StreamT


def write_tables_for(event: EventT) -> None:
    """A table write goes to the changelog partition of the current event, which Faust sets for
    ``stream.events()`` but not for a batch (``take_events``). The context variable is this
    task's own, so the stream's background task that fills the batch is not affected."""
    _current_event.set(weakref.ref(event))


def batches(stream: StreamT, size: int, within: float) -> AsyncIterator[list[EventT]]:
    """Events in batches of up to ``size``, waiting at most ``within`` seconds for more: Faust's
    ``Stream.take_events``, which its stream interface type leaves out."""
    return stream.take_events(size, within)  # type: ignore[attr-defined]


def recovery_state(app: faust.App) -> tuple[bool, bool]:
    """(every assigned partition's tables recovered, recovering now): the table manager's
    recovery service, which its interface type leaves out."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return recovery.completed.is_set(), recovery.in_recovery


async def fetch_partitions(app: faust.App, topic: str) -> None:
    """Faust's ``topic_route`` asks the producer which partition a key goes to; a worker that
    has not produced to ``topic`` yet has no metadata for it. Faust exposes no public way to
    ask its producer for that."""
    producer = app.producer._ensure_producer()  # type: ignore[attr-defined]
    await producer.partitions_for(topic)
