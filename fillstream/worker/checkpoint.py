"""When outputs may leave: only once the state they come from is durable.

An agent's batch changes its tables (Faust queues the changelog writes) and produces outputs.
At the batch's checkpoint, in this order:

1. every changelog write of the batch is acknowledged by Kafka (the state, with each account's
   applied offsets and owed outputs, is durable);
2. the outputs are sent and acknowledged;
3. the batch's progress is written (durable with the next batch's state).

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
from collections.abc import Callable, Iterable, Mapping

from faust.types import TopicT

from fillstream import metrics
from fillstream.worker.documents import Output

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
    def __init__(self, topics: Mapping[str, TopicT]) -> None:
        self._topics = topics
        self._outputs: list[Output] = []
        self._pending_bytes = 0

    def publish(self, outputs: Iterable[Output]) -> None:
        """Send at the next checkpoint."""
        for output in outputs:
            self._outputs.append(output)
            self._pending_bytes += len(output.value)

    @property
    def full(self) -> bool:
        return self._pending_bytes >= MAX_PENDING_BYTES

    async def commit(
        self, state_writes: list[asyncio.Future], store_progress: Callable[[], None]
    ) -> None:
        await self._durable(state_writes)
        outputs, self._outputs, self._pending_bytes = self._outputs, [], 0
        await self._deliver(outputs)
        store_progress()

    async def _durable(self, state_writes: list[asyncio.Future]) -> None:
        """Every changelog write of the batch acknowledged (said in the log while it is slow:
        the agent waits here, and a wait nobody hears of looks like a stall)."""
        pending = set(state_writes)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=SLOW_ACKNOWLEDGEMENT_SECONDS)
            for write in done:
                write.result()
            if pending:
                logger.warning("still waiting for %d changelog acknowledgements", len(pending))

    async def _deliver(self, outputs: list[Output]) -> None:
        """Send until every output is acknowledged: the state that owes them is durable, so
        they may not be dropped; a retry repeats them exactly."""
        delay = RETRY_START_SECONDS
        while outputs:
            try:
                deliveries = [
                    await self._topics[output.topic].send(
                        key=output.key, value=output.value, partition=output.partition
                    )
                    for output in outputs
                ]
                await asyncio.wait_for(asyncio.gather(*deliveries), DELIVERY_TIMEOUT_SECONDS)
            except Exception as error:
                logger.warning("sending %d outputs failed (%r); again in %.1fs", len(outputs),
                               error, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)
                continue
            for output in outputs:
                metrics.MESSAGES_OUT.labels(output.topic).inc()
            return
