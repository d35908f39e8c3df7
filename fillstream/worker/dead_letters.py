"""Keeps a worker alive whatever a message holds: anything that fails goes to the dead letters,
with the reason, and processing goes on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fillstream import logs, metrics
from fillstream.wire.codec import BadMessage, dead_letter, encode
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output
from fillstream.worker.inputs import Input

logger = logging.getLogger(__name__)

Handler = Callable[[Input], Awaitable[None]]


class DeadLetters:
    def __init__(self, topic: str, checkpoint: Checkpoint) -> None:
        self._topic = topic
        self._checkpoint = checkpoint

    async def guarded(self, record: Input, handle: Handler) -> None:
        try:
            await handle(record)
        except BadMessage as error:
            logger.info("dead letter: %s", error, extra=_about(record))
            self._send(record, str(error))
        except Exception as error:
            logger.exception(
                "failed on %s@%s", record.progress_key, record.offset, extra=_about(record)
            )
            self._send(record, f"internal error: {type(error).__name__}: {error}")

    def _send(self, record: Input, error: str) -> None:
        letter = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            error=error,
            ts=record.record_time,
        )
        self._checkpoint.publish([Output(self._topic, record.key, encode(letter))])
        metrics.DEAD_LETTERS.labels(record.topic).inc()


def _about(record: Input) -> dict:
    return logs.about(record.topic, record.partition, record.offset, record.key)
