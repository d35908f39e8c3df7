"""The sink process: its own consumer group, batches per partition, exactly once in ClickHouse.

A batch is a run of consecutive records of one partition, inserted in one INSERT with the
deduplication token ``topic-partition-first-last`` and ``async_insert=0``; the offset is committed
only after the insert succeeded. After a crash between insert and commit, the partition resumes
past the highest offset ClickHouse already holds for it, so nothing is inserted twice even when
the re-read would cut its batches differently. While ClickHouse fails, the sink retries the same
batch with capped exponential backoff, keeps its consumer group membership, and commits nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from clickhouse_connect.driver.client import Client

from fillstream import metrics
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.sink.clickhouse import create_client
from fillstream.sink.migrations import check_columns, migrate
from fillstream.sink.rows import TABLES, TableSpec

logger = logging.getLogger(__name__)
BACKOFF_START_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


@dataclass
class SinkStats:
    rows: int = 0
    batches: int = 0
    errors: int = 0
    last_error: str | None = None
    lag: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "batches": self.batches,
            "errors": self.errors,
            "last_error": self.last_error,
            "lag": self.lag,
            "healthy": self.last_error is None,
        }


class Sink:
    def __init__(
        self, settings: Settings, connect: Callable[[Settings], Client] = create_client
    ) -> None:
        self.settings = settings
        self.specs: dict[str, TableSpec] = {
            settings.topic(contract.name): spec for contract, spec in TABLES.items()
        }
        self._connect = connect
        self.max_rows = settings.sink_batch_rows
        self.max_delay = settings.sink_batch_seconds
        self.stats = SinkStats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: Client | None = None
        self._buffers: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
        self._first_buffered_at: dict[TopicPartition, float] = {}
        self._consumer: AIOKafkaConsumer | None = None

    async def call(self, function, *args, **kwargs):
        """Run blocking work (ClickHouse calls, building Arrow batches) on the sink's one thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def query(
        self, sql: str, parameters: dict | None = None
    ) -> tuple[list[str], list[tuple]]:
        result = await self.call(
            self._require_client().query, sql, parameters=parameters, settings={"readonly": 1}
        )
        return list(result.column_names), result.result_rows

    def _require_client(self) -> Client:
        assert self._client is not None, "the sink has not started"
        return self._client

    def _require_consumer(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "the sink has not started"
        return self._consumer

    async def start(self, kafka: Kafka) -> None:
        self.kafka = kafka
        self._client = await self.call(self._connect, self.settings)
        applied = await self.call(migrate, self._client)
        if applied:
            logger.info("applied ClickHouse migrations %s", applied)
        await self.call(check_columns, self._client, TABLES.values())
        await ensure_topics(
            kafka,
            [spec for spec in pipeline_topics(self.settings) if spec.name in self.specs],
            self.settings.topic_partitions,
            self.settings.topic_replication_factor,
            self.settings.topic_min_insync_replicas,
        )
        self._consumer = kafka.consumer(
            group_id=f"{self.settings.app_id}-sink",
            # A topic created just now may be missing from the first metadata; look again soon.
            metadata_max_age_ms=5000,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._consumer.start()
        self._consumer.subscribe(list(self.specs), listener=_Rebalance(self))

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = self._require_consumer()
        next_lag_update = 0.0
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=self.max_rows)
            now = time.monotonic()
            for tp, records in batches.items():
                if records:
                    self._first_buffered_at.setdefault(tp, now)
                    self._buffers[tp].extend(records)
            for tp in list(self._buffers):
                buffered = self._buffers[tp]
                due = now - self._first_buffered_at.get(tp, now) >= self.max_delay
                while buffered and (len(buffered) >= self.max_rows or due):
                    await self._flush(tp, stopping)
                    buffered = self._buffers[tp]
            if now >= next_lag_update:
                await self._update_lag()
                next_lag_update = now + 1
        for tp in list(self._buffers):
            while self._buffers[tp]:
                await self._flush(tp, stopping, retry=False)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        self._executor.shutdown(wait=True)

    async def _update_lag(self) -> None:
        """Records behind the end of each partition: not yet in ClickHouse."""
        consumer = self._require_consumer()
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            buffered = self._buffers.get(tp)
            next_offset = buffered[0].offset if buffered else await consumer.position(tp)
            lag = max(highwater - next_offset, 0)
            self.stats.lag[f"{tp.topic}[{tp.partition}]"] = lag
            metrics.SINK_LAG.labels(tp.topic, str(tp.partition)).set(lag)

    async def _flush(self, tp: TopicPartition, stopping: asyncio.Event, retry: bool = True) -> None:
        records = self._buffers[tp][: self.max_rows]
        spec = self.specs[tp.topic]
        rows = await self.call(spec.to_arrow, tp.topic, tp.partition, records)
        token = f"{tp.topic}-{tp.partition}-{records[0].offset}-{records[-1].offset}"
        backoff = BACKOFF_START_SECONDS
        while True:
            try:
                if rows.num_rows:
                    await self.call(self._insert, spec, rows, token)
                break
            except Exception as error:
                self.stats.errors += 1
                metrics.SINK_ERRORS.inc()
                self.stats.last_error = self.settings.redact(f"{type(error).__name__}: {error}")
                logger.warning(
                    "insert %s failed (%s); retrying in %.1fs",
                    token,
                    self.stats.last_error,
                    backoff,
                )
                if not retry or stopping.is_set():
                    return
                await self._wait_alive(backoff)
                backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)
        await self._require_consumer().commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
        self.stats.rows += rows.num_rows
        self.stats.batches += 1
        metrics.SINK_ROWS.labels(spec.table).inc(rows.num_rows)
        metrics.SINK_BATCHES.labels(spec.table).inc()
        self.stats.last_error = None
        del self._buffers[tp][: len(records)]
        if self._buffers[tp]:
            self._first_buffered_at[tp] = time.monotonic()
        else:
            self._first_buffered_at.pop(tp, None)

    def _insert(self, spec: TableSpec, rows: pa.Table, token: str) -> None:
        self._require_client().insert_arrow(
            spec.table, rows, settings={"insert_deduplication_token": token, "async_insert": 0}
        )

    async def _wait_alive(self, seconds: float) -> None:
        """Back off without leaving the consumer group: poll with every partition paused."""
        consumer = self._require_consumer()
        assigned = consumer.assignment()
        consumer.pause(*assigned)
        try:
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                await consumer.getmany(timeout_ms=int(min(remaining, 1.0) * 1000))
        finally:
            consumer.resume(*[tp for tp in assigned if tp in consumer.assignment()])

    async def resume_positions(self, assigned: set[TopicPartition]) -> None:
        """Seek each partition past what ClickHouse already holds, if the commit lags it."""
        consumer = self._require_consumer()
        for topic in {tp.topic for tp in assigned}:
            spec = self.specs[topic]
            result = await self.call(
                self._require_client().query,
                f"SELECT kafka_partition, max(kafka_offset) FROM {spec.table} "
                "WHERE kafka_topic = {topic:String} GROUP BY kafka_partition",
                parameters={"topic": topic},
            )
            stored = dict(result.result_rows)
            for tp in assigned:
                if tp.topic != topic or tp.partition not in stored:
                    continue
                committed = await consumer.committed(tp)
                resume_at = stored[tp.partition] + 1
                if committed is None or committed < resume_at:
                    logger.info("resuming %s at %d, past what ClickHouse holds", tp, resume_at)
                    consumer.seek(tp, resume_at)
                    await consumer.commit({tp: OffsetAndMetadata(resume_at, "")})

    def forget(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self._buffers.pop(tp, None)
            self._first_buffered_at.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def on_partitions_revoked(self, revoked) -> None:
        self.sink.forget(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        await self.sink.resume_positions(set(assigned))
