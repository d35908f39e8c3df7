"""Tables restored in bulk before the worker joins its group.

Faust restores a changelog one record at a time (an asyncio queue, a ``wait_for`` and its
bookkeeping per record: about 10 000 records a second here), so a worker started on an empty disk
with 100 000 accounts stood still for most of a minute. Before the consumer joins, this reads
every table's changelog partitions from what the local store holds to their end, in large
fetches, straight into the stores Faust then opens, and advances their persisted offsets; then
closes them, so Faust opens only those it is given. Faust's own recovery then reads only what was
written meanwhile, and stays the one that decides when a partition is ready.

It reads every partition, since the assignment is not known yet; with a standby replica per
partition on two workers each of them keeps all of them anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import faust
from aiokafka import TopicPartition

from fillstream.broker.connection import Kafka
from fillstream.worker.faust_adapter import close_stores, persisted_offset, store_changelog

logger = logging.getLogger(__name__)
FETCH_BYTES = 64 * 1024 * 1024
PARTITION_FETCH_BYTES = 16 * 1024 * 1024
IDLE_SECONDS = 10.0
"""A partition that yields nothing for this long is left to Faust's recovery."""


@dataclass
class Restored:
    records: int = 0
    seconds: float = 0.0


async def restore_tables(tables: list[faust.Table], kafka: Kafka, partitions: int) -> Restored:
    started = time.perf_counter()
    restored = Restored()
    by_tp = {
        TopicPartition(table.changelog_topic.get_topic_name(), partition): table
        for table in tables
        for partition in range(partitions)
    }
    consumer = kafka.consumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # An app in exactly_once writes its changelogs in transactions: no aborted write may
        # be restored (and without transactions this reads the same records).
        isolation_level="read_committed",
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(by_tp))
        starts = {
            tp: _next_offset(persisted_offset(table, tp.partition)) for tp, table in by_tp.items()
        }
        todo = {tp for tp in by_tp if starts[tp] < ends[tp]}
        consumer.assign(sorted(todo))
        for tp in todo:
            consumer.seek(tp, starts[tp])
        idle_since = time.monotonic()
        while todo:
            fetched = await consumer.getmany(timeout_ms=1000)
            for tp, messages in fetched.items():
                records = [(message.key, message.value) for message in messages]
                store_changelog(by_tp[tp], tp.partition, records, messages[-1].offset)
                restored.records += len(records)
            if fetched:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > IDLE_SECONDS:
                logger.warning("bulk restore left %d changelog partitions to Faust", len(todo))
                break
            done = {tp for tp in todo if await consumer.position(tp) >= ends[tp]}
            if done:
                todo -= done
                consumer.pause(*done)
    finally:
        await consumer.stop()
        for table in tables:
            close_stores(table)
    restored.seconds = time.perf_counter() - started
    logger.info(
        "restored %d changelog records in %.1fs before joining",
        restored.records,
        restored.seconds,
    )
    return restored


def _next_offset(persisted: int | None) -> int:
    return 0 if persisted is None else persisted + 1
