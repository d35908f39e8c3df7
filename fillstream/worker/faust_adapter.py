"""The Faust internals the worker needs, in one place, each with the reason no public API does.

An upgrade of faust-streaming checks this module and nothing else.
"""

from __future__ import annotations

import weakref

import faust
from faust.streams import _current_event
from faust.types import EventT


def write_tables_for(event: EventT) -> None:
    """A table write goes to the changelog partition of the current event, which Faust sets for
    ``stream.events()`` but not for a batch (``take_events``). The context variable is this
    task's own, so the stream's background task that fills the batch is not affected."""
    _current_event.set(weakref.ref(event))


async def fetch_partitions(app: faust.App, topic: str) -> None:
    """Faust's ``topic_route`` asks the producer which partition a key goes to; a worker that
    has not produced to ``topic`` yet has no metadata for it. Faust exposes no public way to
    ask its producer for that."""
    producer = app.producer._ensure_producer()
    await producer.partitions_for(topic)
