"""Keeps a worker alive whatever a message holds: anything that fails goes to the dead letters,
with the reason, and processing goes on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from faust.types import TopicT

from fillstream import metrics
from fillstream.wire.codec import BadMessage, dead_letter, encode
from fillstream.worker.inputs import Input

logger = logging.getLogger(__name__)

Handler = Callable[[Input], Awaitable[None]]


class DeadLetters:
    def __init__(self, topic: TopicT) -> None:
        self._topic = topic

    async def guarded(self, record: Input, handle: Handler) -> None:
        try:
            await handle(record)
        except BadMessage as error:
            await self._send(record, str(error))
        except Exception as error:
            logger.exception("failed on %s@%s", record.progress_key, record.offset)
            await self._send(record, f"internal error: {type(error).__name__}: {error}")

    async def _send(self, record: Input, error: str) -> None:
        letter = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            error=error,
            ts=record.record_time,
        )
        await self._topic.send(key=record.key, value=encode(letter))
        metrics.DEAD_LETTERS.labels(record.topic).inc()
        metrics.MESSAGES_OUT.labels(self._topic.get_topic_name()).inc()
