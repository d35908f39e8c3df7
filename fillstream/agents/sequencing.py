"""Each source partition is processed in offset order, exactly as far as the state says.

faust-streaming can resume a partition past its committed offset after a restart (the stream is
resumed before it seeks to the committed offsets; compare faust-streaming issue #216), which would
silently skip orders. So the next offset to process is kept in a table beside the state it
describes and restored from the same changelog. A message before it is a replay and is passed
over; a message past it means some were skipped, and those are read back with a plain consumer
and processed first, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.streams import _current_event
from faust.types import EventT

from fillstream import metrics
from fillstream.agents.guard import guarded
from fillstream.agents.record import Record
from fillstream.app import app
from fillstream.tables import tables

logger = logging.getLogger(__name__)
REREAD_TIMEOUT_MS = 10_000
READ_BACK_ATTEMPTS = 3


def _from_event(event: EventT) -> Record:
    message = event.message
    return Record(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.timestamp,
    )


class _Progress:
    """How far a batch has taken each source partition, ahead of the progress table."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._events: dict[str, EventT] = {}

    def expected(self, key: str) -> int | None:
        taken = self._next.get(key)
        return tables.progress.get(key) if taken is None else taken

    def take(self, key: str, offset: int, event: EventT) -> None:
        self._next[key] = offset + 1
        self._events[key] = event

    def store(self) -> None:
        """Once per batch and partition, in the changelog partition of that source partition."""
        for key, offset in self._next.items():
            _write_tables_for(self._events[key])
            tables.progress[key] = offset


async def in_order(event: EventT, progress: _Progress) -> list[Record]:
    """The records to process now, in order: none for a replay, the skipped ones before a jump."""
    record = _from_event(event)
    key = record.progress_key
    expected = progress.expected(key)
    if expected is None or record.offset == expected:
        records = [record]
    elif record.offset < expected:
        return []
    else:
        records = [*await _skipped_before(record, expected), record]
    progress.take(key, record.offset, event)
    return records


async def _skipped_before(record: Record, expected: int) -> list[Record]:
    logger.warning(
        "%s delivered offset %d while %d is next: reading the skipped records back",
        record.progress_key,
        record.offset,
        expected,
    )
    for attempt in range(1, READ_BACK_ATTEMPTS + 1):
        try:
            return await _read_back(record.topic, record.partition, expected, record.offset)
        except Exception:
            if attempt == READ_BACK_ATTEMPTS:
                raise
            logger.exception("reading back %s failed (attempt %d)", record.progress_key, attempt)
            await asyncio.sleep(attempt)
    raise AssertionError("unreachable")


async def _read_back(topic: str, partition: int, start: int, stop: int) -> list[Record]:
    """Records with offsets in [start, stop): fewer when compaction or transactions left gaps."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=[f"{url.host}:{url.port}" for url in app.conf.broker],
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        records: list[Record] = []
        while await consumer.position(tp) < stop:
            batch = await consumer.getmany(tp, timeout_ms=REREAD_TIMEOUT_MS)
            if not batch:
                raise RuntimeError(f"could not read back {topic}[{partition}] {start}..{stop - 1}")
            for message in batch[tp]:
                if message.offset < stop:
                    records.append(
                        Record(
                            topic,
                            partition,
                            message.offset,
                            message.key,
                            message.value,
                            message.timestamp / 1000,
                        )
                    )
        return records
    finally:
        await consumer.stop()


async def process_in_order(
    stream, handle, agent: str, size: int, within: float, flush=None
) -> None:
    """The loop of every agent: each record once, in offset order, bad ones to the dead letters.

    Records come in batches (up to `size`, waiting at most `within` seconds for more); `handle`
    sees each record, then `flush` the batch, and progress is written once per partition.
    """
    timer = metrics.PROCESSING_SECONDS.labels(agent)
    async for events in stream.take_events(size, within):
        progress = _Progress()
        for event in events:
            _write_tables_for(event)
            for record in await in_order(event, progress):
                started = time.perf_counter()
                await guarded(record, handle)
                timer.observe(time.perf_counter() - started)
                metrics.MESSAGES_IN.labels(record.topic).inc()
        if flush is not None:
            await flush()
        progress.store()


def _write_tables_for(event: EventT) -> None:
    """A table write goes to the changelog partition of the current event, which Faust sets for
    `stream.events()` but not for a batch. The context variable is this task's own, so the
    stream's background task that fills the batch is not affected."""
    _current_event.set(weakref.ref(event))
