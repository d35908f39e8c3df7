"""Turns the core's events into the contract's messages, sends them, and keeps each order's
status for the API's lookups."""

from __future__ import annotations

from collections.abc import Sequence

from faust.types import TopicT

from fillstream import metrics
from fillstream.core.events import AccountStatusChanged, Event, Fill, OrderEvent, OrderStatus
from fillstream.core.model import Reason
from fillstream.wire.codec import encode
from fillstream.wire.outbound import (
    AccountStatusMessage,
    DrawdownViolationMessage,
    FillMessage,
    OrderEventMessage,
)
from fillstream.worker.tables import Table, pair_key


class Publisher:
    def __init__(
        self, fills: TopicT, order_events: TopicT, risk_events: TopicT, order_status: Table
    ) -> None:
        self._fills = fills
        self._order_events = order_events
        self._risk_events = risk_events
        self._order_status = order_status

    async def publish(self, events: Sequence[Event]) -> None:
        """One input's events, in order; each order's status is stored once per input, so an
        order accepted and filled at once (three events) is written once."""
        statuses: dict[str, dict] = {}
        for event in events:
            await self._send(event, statuses)
        for key, status in statuses.items():
            self._order_status[key] = status

    async def _send(self, event: Event, statuses: dict[str, dict]) -> None:
        topic: TopicT
        message: FillMessage | OrderEventMessage | AccountStatusMessage | DrawdownViolationMessage
        if isinstance(event, Fill):
            topic, message = self._fills, FillMessage.model_validate(event)
            metrics.FILLS.labels(event.liquidity.value, str(event.liquidation).lower()).inc()
        elif isinstance(event, OrderEvent):
            topic, message = self._order_events, OrderEventMessage.model_validate(event)
            reason = event.reason.value if event.reason else ""
            metrics.ORDER_EVENTS.labels(event.status.value, reason).inc()
        elif isinstance(event, AccountStatusChanged):
            topic, message = self._risk_events, AccountStatusMessage.model_validate(event)
        else:
            topic, message = self._risk_events, DrawdownViolationMessage.model_validate(event)
            metrics.DRAWDOWN_VIOLATIONS.inc()
        if isinstance(message, FillMessage | OrderEventMessage):
            self._remember(message, statuses)
        await topic.send(key=event.account_id.encode(), value=encode(message))
        metrics.MESSAGES_OUT.labels(topic.get_topic_name()).inc()

    def _remember(
        self, message: FillMessage | OrderEventMessage, statuses: dict[str, dict]
    ) -> None:
        """Keep each order's latest status and its fills. An order's first event starts its
        status afresh (an order id may come back after the duplicate window); a duplicate's
        rejection is about another message and leaves the first order's status alone."""
        key = pair_key(message.account_id, message.order_id)
        if isinstance(message, OrderEventMessage):
            if message.reason is Reason.DUPLICATE_ORDER_ID:
                return
            if message.status in (OrderStatus.ACCEPTED, OrderStatus.REJECTED):
                statuses[key] = {"fills": []}
        status = statuses.get(key) or self._order_status.get(key) or {"fills": []}
        if isinstance(message, FillMessage):
            status["fills"] = [*status["fills"], message.model_dump(mode="json", exclude_none=True)]
        else:
            status.update(message.model_dump(mode="json", exclude_none=True, exclude={"order_id"}))
        statuses[key] = status
