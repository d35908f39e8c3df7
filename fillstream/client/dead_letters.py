"""The operator's side of ``dead-letters``: read them, and once the cause is fixed, send the
messages back to the topics they came from, each at most once per redrive group."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.wire.outbound import DeadLetterMessage
from fillstream.wire.topics import DEAD_LETTERS


@dataclass(frozen=True)
class Redriven:
    sent: int
    passed_over: int


def _raw(text: str | None, encoding: str) -> bytes | None:
    if text is None:
        return None
    return base64.b64decode(text) if encoding == "base64" else text.encode()


async def _assigned(kafka: Kafka, topic: str, **given: object) -> AIOKafkaConsumer:
    partitions = await kafka.partitions(topic)
    consumer = kafka.consumer(enable_auto_commit=False, isolation_level="read_committed", **given)
    await consumer.start()
    consumer.assign(partitions)
    return consumer


async def tail(
    settings: Settings, kafka: Kafka, last: int, follow: bool
) -> AsyncIterator[DeadLetterMessage]:
    """The last ``last`` dead letters of each partition, then (``follow``) each new one."""
    consumer = await _assigned(kafka, settings.topic(DEAD_LETTERS.name), group_id=None)
    try:
        assigned = sorted(consumer.assignment())
        starts = await consumer.beginning_offsets(assigned)
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, max(starts[tp], ends[tp] - last))
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    yield DeadLetterMessage.model_validate_json(record.value or b"")
            caught_up = all([await _at(consumer, tp, ends[tp]) for tp in assigned])
            if not follow and caught_up:
                return
    finally:
        await consumer.stop()


async def _at(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
    return await consumer.position(tp) >= end


async def redrive(
    settings: Settings,
    kafka: Kafka,
    *,
    source_topic: str | None = None,
    error_contains: str | None = None,
) -> Redriven:
    """Every dead letter this redrive group has not yet seen, up to the end at the start, whose
    source topic and error match, goes back to its topic with its key, unchanged; the others
    are passed over. The group's offsets move only after the sends are acknowledged, so a
    crash repeats a send and never loses one (a repeated order is refused as a duplicate)."""
    topic = settings.topic(DEAD_LETTERS.name)
    consumer = await _assigned(kafka, topic, group_id=f"{settings.app_id}-redrive")
    producer = kafka.producer(acks="all", enable_idempotence=True)
    await producer.start()
    sent = passed = 0
    try:
        assigned = sorted(consumer.assignment())
        ends = await consumer.end_offsets(assigned)
        committed = {tp: await consumer.committed(tp) for tp in assigned}
        starts = await consumer.beginning_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, committed[tp] if committed[tp] is not None else starts[tp])
        while not all([await _at(consumer, tp, ends[tp]) for tp in assigned]):
            batches = await consumer.getmany(timeout_ms=500)
            deliveries = []
            progress = {}
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    progress[tp] = OffsetAndMetadata(record.offset + 1, "")
                    letter = DeadLetterMessage.model_validate_json(record.value or b"")
                    if (source_topic and letter.source_topic != settings.topic(source_topic)) or (
                        error_contains and error_contains not in letter.error
                    ):
                        passed += 1
                        continue
                    deliveries.append(
                        await producer.send(
                            letter.source_topic,
                            key=_raw(letter.key, letter.key_encoding),
                            value=_raw(letter.value, letter.value_encoding),
                        )
                    )
            await asyncio.gather(*deliveries)
            sent += len(deliveries)
            if progress:
                await consumer.commit(progress)
    finally:
        await producer.stop()
        await consumer.stop()
    return Redriven(sent, passed)


def as_line(letter: DeadLetterMessage) -> str:
    return json.dumps(letter.model_dump(mode="json"))
