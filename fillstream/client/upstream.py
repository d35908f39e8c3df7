"""What an upstream system needs to trade through fillstream from Python: the contract's typed
messages sent keyed as the contract requires, and an order's answers awaited on
``order-events``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel

from fillstream.broker.connection import Kafka
from fillstream.core.events import TERMINAL, OrderStatus
from fillstream.settings import Settings
from fillstream.wire.codec import encode
from fillstream.wire.inbound import (
    AccountMessage,
    CancelMessage,
    ControlRequest,
    FirmControlRequest,
    InstrumentMessage,
    OrderMessage,
    ReplaceMessage,
    ResolutionMessage,
    TickMessage,
)
from fillstream.wire.outbound import OrderEventMessage
from fillstream.wire.programs import ProgramMessage
from fillstream.wire.topics import (
    ACCOUNTS,
    CONTROLS,
    FIRM_CONTROLS,
    INSTRUMENTS,
    ORDER_EVENTS,
    ORDERS,
    PROGRAMS,
    RESOLUTIONS,
    TICKS,
    TopicContract,
)

logger = logging.getLogger(__name__)

ROUTES: dict[type[BaseModel], TopicContract] = {
    InstrumentMessage: INSTRUMENTS,
    AccountMessage: ACCOUNTS,
    TickMessage: TICKS,
    OrderMessage: ORDERS,
    CancelMessage: ORDERS,
    ReplaceMessage: ORDERS,
    ResolutionMessage: RESOLUTIONS,
    ProgramMessage: PROGRAMS,
    ControlRequest: CONTROLS,
    FirmControlRequest: FIRM_CONTROLS,
}
ANSWERS_TO_CANCEL = frozenset({OrderStatus.CANCELLED, OrderStatus.CANCEL_REJECTED}) | TERMINAL
ANSWERS_TO_REPLACE = frozenset({OrderStatus.REPLACED, OrderStatus.REPLACE_REJECTED}) | TERMINAL


class Client:
    """A producer that waits for every write to be replicated (acks=all, idempotent) and a reader
    of ``order-events`` from the moment it starts; ``async with Client(settings) as client``."""

    def __init__(self, settings: Settings, kafka: Kafka | None = None) -> None:
        self.settings = settings
        self.kafka = kafka or Kafka.from_settings(settings)
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._reading: asyncio.Task[None] | None = None
        self._followed: dict[str, asyncio.Queue[OrderEventMessage]] = {}

    async def __aenter__(self) -> Client:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        assigned = await self.kafka.partitions(self.settings.topic(ORDER_EVENTS.name))
        self._producer = self.kafka.producer(acks="all", enable_idempotence=True)
        await self._producer.start()
        self._reader = self.kafka.consumer(
            group_id=None, enable_auto_commit=False, isolation_level="read_committed"
        )
        await self._reader.start()
        self._reader.assign(assigned)
        await self._reader.seek_to_end(*assigned)
        for tp in assigned:
            await self._reader.position(tp)  # pinned now: later events are not missed
        self._reading = asyncio.create_task(self._read(self._reader))

    async def stop(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        if self._reader is not None:
            await self._reader.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, message: BaseModel) -> None:
        """Onto its topic, keyed by the field the contract names; returns once replicated."""
        contract = ROUTES[type(message)]
        key = getattr(message, contract.key) if contract.key else None
        await self._require_producer().send_and_wait(
            self.settings.topic(contract.name),
            key=key.encode() if key is not None else None,
            value=encode(message),
        )

    async def submit(self, order: OrderMessage, timeout: float = 30.0) -> OrderEventMessage:
        """Send a new order and return its terminal event (filled, rejected, cancelled or
        expired); an order that rests past ``timeout`` raises TimeoutError (it stays open)."""
        return await self._ask(order, TERMINAL, timeout)

    async def cancel(
        self, account_id: str, order_id: str, timeout: float = 30.0
    ) -> OrderEventMessage:
        """The answer: ``cancelled``, ``cancel_rejected``, or the order's end if that came first."""
        message = CancelMessage(action="cancel", account_id=account_id, order_id=order_id)
        return await self._ask(message, ANSWERS_TO_CANCEL, timeout)

    async def replace(self, message: ReplaceMessage, timeout: float = 30.0) -> OrderEventMessage:
        return await self._ask(message, ANSWERS_TO_REPLACE, timeout)

    async def _ask(
        self,
        message: OrderMessage | CancelMessage | ReplaceMessage,
        answers: Iterable[OrderStatus],
        timeout: float,
    ) -> OrderEventMessage:
        wanted = frozenset(answers)
        queue = self._followed.setdefault(message.order_id, asyncio.Queue())
        try:
            await self.send(message)
            async with asyncio.timeout(timeout):
                while (event := await queue.get()).status not in wanted:
                    pass
            return event
        finally:
            self._followed.pop(message.order_id, None)

    async def _read(self, reader: AIOKafkaConsumer) -> None:
        while True:
            batches = await reader.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        event = OrderEventMessage.model_validate_json(record.value or b"")
                    except ValueError as error:
                        # Not ours to judge: a record off the contract is skipped, not fatal.
                        logger.warning("order-events offset %d: %s", record.offset, error)
                        continue
                    if (queue := self._followed.get(event.order_id)) is not None:
                        queue.put_nowait(event)

    def _require_producer(self) -> AIOKafkaProducer:
        assert self._producer is not None, "the client has not started"
        return self._producer
