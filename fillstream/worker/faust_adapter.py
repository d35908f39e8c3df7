"""The Faust internals the worker needs, in one place, each with the reason no public API does.

An upgrade of faust-streaming checks this module and nothing else.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import faust
import rocksdict
from faust.streams import _current_event
from faust.types import TP, EventT, StreamT


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


def persisted_offset(table: faust.Table, partition: int) -> int | None:
    """The last changelog offset the table's local store holds for the partition."""
    store = table.data
    return store.persisted_offset(TP(table.changelog_topic.get_topic_name(), partition))


def store_changelog(
    table: faust.Table, partition: int, records: list[tuple[bytes, bytes | None]], offset: int
) -> None:
    """Write changelog records (a value of None deletes) into the table's local store up to
    ``offset``, as Faust's own restore does (``Store.apply_changelog_batch``, which wants
    Faust events): the store's own database for the partition, one write batch, then the
    persisted offset Faust's recovery resumes after."""
    store = table.data
    batch = rocksdict.WriteBatch(raw_mode=True)
    for key, value in records:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    store._db_for_partition(partition).write(batch)  # type: ignore[attr-defined]
    store.set_persisted_offset(TP(table.changelog_topic.get_topic_name(), partition), offset)


def close_stores(table: faust.Table) -> None:
    """Close the table's local databases, so Faust opens only those of the partitions it is
    given: a read outside an event searches every open one (``Store._get_bucket_for_key``),
    and would answer from a partition another worker owns."""
    store = table.data
    while store._dbs:  # type: ignore[attr-defined]
        _, db = store._dbs.popitem()  # type: ignore[attr-defined]
        db.close()
    store._key_index.clear()  # type: ignore[attr-defined]


_changelog_writes: ContextVar[list[asyncio.Future] | None] = ContextVar(
    "changelog_writes", default=None
)


class DurableTable(faust.Table):
    """A Faust table whose changelog writes can be awaited: Faust queues them (``send_soon``)
    and hands no one the futures. Inside `collect_changelog_writes`, each write's future (done
    when Kafka acknowledges it) is kept."""

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        future = super().send_changelog(*args, **kwargs)
        collected = _changelog_writes.get()
        if collected is not None:
            collected.append(future)
        return future


@contextmanager
def collect_changelog_writes() -> Iterator[list[asyncio.Future]]:
    """The futures of the changelog writes this task makes inside the block."""
    collected: list[asyncio.Future] = []
    token = _changelog_writes.set(collected)
    try:
        yield collected
    finally:
        _changelog_writes.reset(token)
