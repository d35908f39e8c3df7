"""Record batches per topic partition: the order kept, keys partitioned as Kafka's Java client
does, a full batch continued in the next, and the offsets each acknowledgement gives."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from fillstream.worker.producer import BatchProducer, Record


class Batch:
    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: None) -> object:
        if len(self.records) == self.room:
            return None
        self.records.append((key, value))
        return object()


class Kafka:
    """aiokafka's producer as the batch producer uses it: batches of ``room`` records, each
    acknowledged when told to."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.sent: list[tuple[str, int, list]] = []
        self.futures: list[asyncio.Future] = []

    def create_batch(self) -> Batch:
        return Batch(self.room)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future:
        self.sent.append((topic, partition, batch.records))
        future = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}


async def test_records_go_in_order_one_batch_per_partition_keys_as_the_java_client() -> None:
    kafka = Kafka(room=2)
    producer = BatchProducer(lambda: kafka)  # type: ignore[arg-type, return-value]
    sent = await producer.send(
        [
            Record("fills", None, b"ann", b"1"),
            Record("fills", None, b"ben", b"2"),
            Record("fills", None, b"ann", b"3"),
            Record("fills", None, b"ann", b"4"),
            Record("progress", 0, b"orders#0", b"9"),
        ]
    )
    # murmur2 over 4 partitions, as org.apache.kafka.common.utils.Utils gives: ann 2, ben 1.
    # Three records for fills[2] in batches of two: the third starts the next batch.
    assert kafka.sent == [
        ("fills", 2, [(b"ann", b"1"), (b"ann", b"3")]),
        ("fills", 2, [(b"ann", b"4")]),
        ("fills", 1, [(b"ben", b"2")]),
        ("progress", 0, [(b"orders#0", b"9")]),
    ]
    for future, base in zip(kafka.futures, (10, 12, 5, 0), strict=True):
        future.set_result(SimpleNamespace(offset=base))
    assert await sent.acknowledged() == {
        TopicPartition("fills", 2): 12,
        TopicPartition("fills", 1): 5,
        TopicPartition("progress", 0): 0,
    }


async def test_a_failed_batch_fails_the_send_once_all_are_settled() -> None:
    kafka = Kafka(room=10)
    producer = BatchProducer(lambda: kafka)  # type: ignore[arg-type, return-value]
    sent = await producer.send([Record("a", 0, None, b"1"), Record("b", 0, None, b"2")])
    acknowledged = asyncio.ensure_future(sent.acknowledged())
    kafka.futures[0].set_exception(ConnectionError("broker away"))
    await asyncio.sleep(0.01)
    assert not acknowledged.done()  # the other batch is still in flight
    kafka.futures[1].set_result(SimpleNamespace(offset=0))
    with pytest.raises(ConnectionError, match="broker away"):
        await acknowledged
