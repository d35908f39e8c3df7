"""Paced publishing through a plain Kafka producer, as any upstream system would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from fillstream.broker.connection import Kafka


def upstream_producer(kafka: Kafka) -> AIOKafkaProducer:
    """Batches generously: the generators are the load source for the benchmarks."""
    return kafka.producer(linger_ms=5, max_batch_size=512 * 1024, acks=1)


async def publish_paced(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Iterable[tuple[str, bytes, float | None]],
    *,
    seconds: float | None = None,
) -> int:
    """Send each (key, value, due) at ``due`` seconds after the start (None: at once);
    stop after ``seconds``. Return how many were sent."""
    start = time.monotonic()
    sent = 0
    for key, value, due in messages:
        now = time.monotonic() - start
        if seconds is not None and now >= seconds:
            break
        if due is not None and due > now + 0.001:
            await asyncio.sleep(due - now)
        await producer.send(topic, key=key.encode(), value=value)
        sent += 1
        if sent % 2048 == 0:
            await asyncio.sleep(0)  # let the producer's sender run
    await producer.flush()
    return sent


def at_rate(messages: Iterable[tuple[str, bytes]], rate: float | None):
    """Attach due times for a steady rate (None: as fast as possible)."""
    for n, (key, value) in enumerate(messages):
        yield key, value, (n / rate if rate else None)
