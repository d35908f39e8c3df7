"""Records to Kafka as one batch per topic partition.

Faust's ``Topic.send`` costs a future, a buffer hand-off, a callback and an accumulator entry per
message; about a quarter of a worker draining orders went there (docs/benchmarks.md, "Where an
order's time goes"). A checkpoint knows all it sends at once, so it builds the record batches
itself (aiokafka's ``create_batch`` and ``send_batch``) and waits for one acknowledgement per
batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int | None
    """None: by the key, with Kafka's default partitioner (murmur2, as the Java client)."""
    key: bytes | None
    value: bytes | None


class Sent:
    """Batches handed to the producer, in order; ``acknowledged`` waits for all of them."""

    def __init__(self, batches: list[tuple[TopicPartition, int, asyncio.Future]]) -> None:
        self._batches = batches

    async def acknowledged(self) -> dict[TopicPartition, int]:
        """The last offset written in each partition; the first failure is raised once every
        batch is settled (none left unobserved)."""
        results = await asyncio.gather(
            *(future for _, _, future in self._batches), return_exceptions=True
        )
        last: dict[TopicPartition, int] = {}
        for (tp, count, _), metadata in zip(self._batches, results, strict=True):
            if isinstance(metadata, BaseException):
                raise metadata
            if metadata is not None:
                last[tp] = metadata.offset + count - 1
        return last


class BatchProducer:
    def __init__(self, producer: Callable[[], AIOKafkaProducer]) -> None:
        """``producer`` gives the started producer when first needed (Faust's own, which
        exists only once the app runs)."""
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}

    async def send(self, records: Iterable[Record]) -> Sent:
        """Queue the records in order (each partition's in the order given) without waiting for
        the broker."""
        producer = self._producer()
        groups: dict[TopicPartition, list[Record]] = {}
        for record in records:
            partition = record.partition
            if partition is None:
                partition = DefaultPartitioner()(
                    record.key, *[await self._partitions_of(producer, record.topic)] * 2
                )
            groups.setdefault(TopicPartition(record.topic, partition), []).append(record)
        batches: list[tuple[TopicPartition, int, asyncio.Future]] = []
        for tp, group in groups.items():
            batch, count = producer.create_batch(), 0
            for record in group:
                if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                    future = await producer.send_batch(batch, tp.topic, partition=tp.partition)
                    batches.append((tp, count, future))
                    # A batch always takes its first record, whatever its size.
                    batch, count = producer.create_batch(), 0
                    batch.append(key=record.key, value=record.value, timestamp=None)
                count += 1
            future = await producer.send_batch(batch, tp.topic, partition=tp.partition)
            batches.append((tp, count, future))
        return Sent(batches)

    async def _partitions_of(self, producer: AIOKafkaProducer, topic: str) -> list[int]:
        known = self._partitions.get(topic)
        if known is None:
            known = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return known
