"""The replay guard: each source partition is processed in offset order, exactly as far as the
state says, and a record the state already holds is never applied twice.

faust-streaming can resume a partition past its committed offset after a restart (the stream is
resumed before it seeks to the committed offsets; compare faust-streaming issue #216), which would
silently skip orders. So the next offset to process is kept in the progress table beside the
state it describes and restored from the same changelog. A message before it is a replay and is
passed over; a message past it means some were skipped, and those are read back with a plain
consumer and processed first, in order.

Progress is written at each checkpoint, after the state and the outputs of the batch
(`checkpoint`); what a crash before it replays, each account passes over by its own applied
offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition
from faust.types import EventT, StreamT

from fillstream import metrics
from fillstream.broker.connection import Kafka
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.dead_letters import DeadLetters, Handler
from fillstream.worker.faust_adapter import (
    ChangelogWrites,
    batches,
    collect_changelog_writes,
    write_tables_for,
)
from fillstream.worker.inputs import Input
from fillstream.worker.tables import Table

logger = logging.getLogger(__name__)
REREAD_TIMEOUT_MS = 10_000
READ_BACK_ATTEMPTS = 3


class Sequencer:
    """The loop of every agent: each record once, in offset order, bad ones to the dead letters.

    Records come in batches (up to ``size``, waiting at most ``within`` seconds for more);
    ``handle`` sees each record, then ``flush`` the batch, and progress is written once per
    partition.
    """

    def __init__(
        self,
        agent: str,
        progress: Table,
        checkpoint: Checkpoint,
        dead_letters: DeadLetters,
        kafka: Kafka,
        *,
        size: int,
        within: float,
    ) -> None:
        self.agent = agent
        self._progress = progress
        self._checkpoint = checkpoint
        self._dead_letters = dead_letters
        self._kafka = kafka
        self.size = size
        self.within = within

    async def run(
        self,
        stream: StreamT,
        handle: Handler,
        flush: Callable[[], Awaitable[None]] | None = None,
        committed: Callable[[], None] | None = None,
        end_partition: Callable[[int], None] | None = None,
    ) -> None:
        """``flush`` ends each batch (the router's broadcast); ``end_partition`` ends it for
        each partition it read, with that partition's changelogs; ``committed`` hears that a
        checkpoint has delivered the batch's outputs."""
        timer = metrics.PROCESSING_SECONDS.labels(self.agent)
        async for events in batches(stream, self.size, self.within):
            batch = _Batch(self._progress)
            with collect_changelog_writes() as writes:
                for event in events:
                    write_tables_for(event)
                    for record in await self._in_order(event, batch):
                        started = time.perf_counter()
                        await self._dead_letters.guarded(record, handle)
                        timer.observe(time.perf_counter() - started)
                        metrics.MESSAGES_IN.labels(record.topic).inc()
                    if self._checkpoint.full:
                        await self._commit(batch, writes, flush, committed, end_partition)
                        batch = _Batch(self._progress)
                # Inside the block: what ending the batch writes (the outbox index) is durable
                # before the outputs leave, like the rest of the batch's state.
                await self._commit(batch, writes, flush, committed, end_partition)

    async def _commit(
        self,
        batch: _Batch,
        writes: ChangelogWrites,
        flush: Callable[[], Awaitable[None]] | None,
        committed: Callable[[], None] | None,
        end_partition: Callable[[int], None] | None,
    ) -> None:
        if flush is not None:
            await flush()
        if end_partition is not None:
            for partition, event in batch.partitions().items():
                write_tables_for(event)
                end_partition(partition)
        await self._checkpoint.commit(writes, batch.store)
        if committed is not None:
            committed()

    async def _in_order(self, event: EventT, batch: _Batch) -> list[Input]:
        """The records to process now, in order: none for a replay, the skipped ones before a
        jump."""
        record = _input_of(event)
        key = record.progress_key
        # No progress yet: everything from the start of the partition is still to do (a
        # worker that died before its first checkpoint may have let Faust commit past it).
        expected = batch.expected(key) or 0
        if record.offset == expected:
            records = [record]
        elif record.offset < expected:
            return []
        else:
            records = [*await self._skipped_before(record, expected), record]
        batch.take(key, record.offset, event)
        return records

    async def _skipped_before(self, record: Input, expected: int) -> list[Input]:
        logger.warning(
            "%s delivered offset %d while %d is next: reading the skipped records back",
            record.progress_key,
            record.offset,
            expected,
        )
        for attempt in range(1, READ_BACK_ATTEMPTS + 1):
            try:
                return await self._read_back(
                    record.topic, record.partition, expected, record.offset
                )
            except Exception:
                if attempt == READ_BACK_ATTEMPTS:
                    raise
                logger.exception(
                    "reading back %s failed (attempt %d)", record.progress_key, attempt
                )
                await asyncio.sleep(attempt)
        raise AssertionError("unreachable")

    async def _read_back(self, topic: str, partition: int, start: int, stop: int) -> list[Input]:
        """Records with offsets in [start, stop): fewer when compaction or transactions left
        gaps."""
        consumer = self._kafka.consumer(
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            # Records retention has already deleted are gone: start at the first one kept.
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, start)
            records: list[Input] = []
            while await consumer.position(tp) < stop:
                batch = await consumer.getmany(tp, timeout_ms=REREAD_TIMEOUT_MS)
                if not batch:
                    raise RuntimeError(
                        f"could not read back {topic}[{partition}] {start}..{stop - 1}"
                    )
                for message in batch[tp]:
                    if message.offset < stop:
                        records.append(
                            Input(
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


class _Batch:
    """How far a batch has taken each source partition, ahead of the progress table."""

    def __init__(self, progress: Table) -> None:
        self._table = progress
        self._next: dict[str, int] = {}
        self._events: dict[str, EventT] = {}

    def expected(self, key: str) -> int | None:
        taken = self._next.get(key)
        return self._table.get(key) if taken is None else taken

    def take(self, key: str, offset: int, event: EventT) -> None:
        self._next[key] = offset + 1
        self._events[key] = event

    def partitions(self) -> dict[int, EventT]:
        """Each partition the batch read, with an event of it (co-partitioned sources share
        their changelog partition)."""
        return {event.message.partition: event for event in self._events.values()}

    def store(self) -> None:
        """Once per batch and partition, in the changelog partition of that source partition."""
        for key, offset in self._next.items():
            write_tables_for(self._events[key])
            self._table[key] = offset


def _input_of(event: EventT) -> Input:
    message = event.message
    return Input(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.timestamp,
    )
