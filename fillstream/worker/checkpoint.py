"""When outputs may leave: only once the state they come from is durable.

An agent's batch changes its tables (their changelog writes are kept, the last one per key) and
produces outputs. At the batch's checkpoint, in this order:

1. the changelog writes are sent, one record batch per partition, and every one is acknowledged
   by Kafka (the state, with each account's applied offsets and owed outputs, is durable);
2. the outputs are sent the same way and acknowledged;
3. the batch's progress is written and sent (durable with the next batch's state, whose
   checkpoint waits for it).

A crash before 1 completes leaves no output of the batch published, so whatever its replay
computes is the first publication. A crash between 1 and 3 replays the batch onto durable
accounts: each account whose document has applied a record passes it over and sends its owed
outputs again, identical bytes. So a replay repeats an output exactly or publishes it for the
first time, never a different one. Quix Streams keeps its checkpoint in the same shape (state,
produced messages and offsets in one object, in one order).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from fillstream import metrics
from fillstream.worker.documents import Output
from fillstream.worker.faust_adapter import ChangelogWrites
from fillstream.worker.producer import BatchProducer, Record, Sent

logger = logging.getLogger(__name__)
RETRY_START_SECONDS = 0.5
RETRY_CAP_SECONDS = 10.0
SLOW_ACKNOWLEDGEMENT_SECONDS = 10.0
DELIVERY_TIMEOUT_SECONDS = 60.0
"""Outputs not acknowledged by then are sent again (identical: repeats are allowed)."""
MAX_PENDING_BYTES = 512 * 1024
"""A batch checkpoints early past this much output, so an account's owed outputs stay well
inside one Kafka record."""


class Checkpoint:
    def __init__(self, producer: BatchProducer) -> None:
        self._producer = producer
        self._outputs: list[Output] = []
        self._pending_bytes = 0
        self._progress: tuple[ChangelogWrites, Sent] | None = None

    def publish(self, outputs: Iterable[Output]) -> None:
        """Send at the next checkpoint."""
        for output in outputs:
            self._outputs.append(output)
            self._pending_bytes += len(output.value)

    @property
    def full(self) -> bool:
        return self._pending_bytes >= MAX_PENDING_BYTES

    async def commit(self, writes: ChangelogWrites, store_progress: Callable[[], None]) -> None:
        """``writes`` collects the batch's changelog writes; those ``store_progress`` makes are
        sent at once and waited for by the next checkpoint."""
        await self._durable(writes.take())
        outputs, self._outputs, self._pending_bytes = self._outputs, [], 0
        await self._deliver(outputs)
        store_progress()
        progress = writes.take()
        if progress:
            self._progress = (progress, await self._producer.send(progress.records()))

    async def _durable(self, writes: ChangelogWrites) -> None:
        """Every changelog write of the batch acknowledged, and the last checkpoint's progress
        (said in the log while it is slow: the agent waits here, and a wait nobody hears of
        looks like a stall)."""
        pending = [(writes, await self._producer.send(writes.records()))]
        if self._progress is not None:
            pending.append(self._progress)
            self._progress = None
        for written, sent in pending:
            acknowledged = asyncio.ensure_future(sent.acknowledged())
            while not acknowledged.done():
                await asyncio.wait([acknowledged], timeout=SLOW_ACKNOWLEDGEMENT_SECONDS)
                if not acknowledged.done():
                    logger.warning("still waiting for %d changelog acknowledgements", len(written))
            written.persist(acknowledged.result())

    async def _deliver(self, outputs: list[Output]) -> None:
        """Send until every output is acknowledged: the state that owes them is durable, so
        they may not be dropped; a retry repeats them exactly."""
        records = [Record(out.topic, out.partition, out.key, out.value) for out in outputs]
        delay = RETRY_START_SECONDS
        while records:
            try:
                sent = await self._producer.send(records)
                await asyncio.wait_for(sent.acknowledged(), DELIVERY_TIMEOUT_SECONDS)
            except Exception as error:
                logger.warning("sending %d outputs failed (%r); again in %.1fs", len(records),
                               error, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
                continue
            for topic, count in Counter(output.topic for output in outputs).items():
                metrics.MESSAGES_OUT.labels(topic).inc(count)
            return
