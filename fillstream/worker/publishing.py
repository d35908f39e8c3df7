"""Turns the core's events into the contract's messages (the bytes that will be published), and
keeps each order's status for the API's lookups. Sending is the checkpoint's."""

from __future__ import annotations

from collections.abc import Sequence

from fillstream import metrics
from fillstream.core.events import (
    AccountStatusChanged,
    ControlApplied,
    EvaluationDecided,
    Event,
    Fill,
    OrderEvent,
    OrderStatus,
    ProgramChanged,
)
from fillstream.core.model import Reason
from fillstream.settings import Settings
from fillstream.wire import topics as contract
from fillstream.wire.codec import encode
from fillstream.wire.outbound import (
    AccountStatusMessage,
    ControlMessage,
    DrawdownViolationMessage,
    EvaluationMessage,
    FillMessage,
    OrderEventMessage,
    ProgramMessageApplied,
)
from fillstream.worker.documents import Output
from fillstream.worker.tables import Table, pair_key


class Publisher:
    def __init__(self, settings: Settings, order_status: Table) -> None:
        self._fills = settings.topic(contract.FILLS.name)
        self._order_events = settings.topic(contract.ORDER_EVENTS.name)
        self._risk_events = settings.topic(contract.RISK_EVENTS.name)
        self._order_status = order_status

    def outputs(self, events: Sequence[Event]) -> list[Output]:
        """One input's events as messages, in order; each order's status is stored once per
        input, so an order accepted and filled at once (three events) is written once."""
        statuses: dict[str, dict] = {}
        outputs = [self._output(event, statuses) for event in events]
        for key, status in statuses.items():
            self._order_status[key] = status
        return outputs

    def _output(self, event: Event, statuses: dict[str, dict]) -> Output:
        topic: str
        message: (
            FillMessage
            | OrderEventMessage
            | AccountStatusMessage
            | DrawdownViolationMessage
            | ControlMessage
            | EvaluationMessage
            | ProgramMessageApplied
        )
        if isinstance(event, Fill):
            topic, message = self._fills, FillMessage.model_validate(event)
            metrics.FILLS.labels(event.liquidity.value, str(event.liquidation).lower()).inc()
        elif isinstance(event, OrderEvent):
            topic, message = self._order_events, OrderEventMessage.model_validate(event)
            reason = event.reason.value if event.reason else ""
            metrics.ORDER_EVENTS.labels(event.status.value, reason).inc()
        elif isinstance(event, AccountStatusChanged):
            topic, message = self._risk_events, AccountStatusMessage.model_validate(event)
        elif isinstance(event, ControlApplied):
            topic, message = self._risk_events, ControlMessage.model_validate(event)
        elif isinstance(event, ProgramChanged):
            topic, message = self._risk_events, ProgramMessageApplied.model_validate(event)
        elif isinstance(event, EvaluationDecided):
            topic, message = self._risk_events, EvaluationMessage.model_validate(event)
            metrics.EVALUATIONS.labels(event.outcome, event.rule).inc()
        else:
            topic, message = self._risk_events, DrawdownViolationMessage.model_validate(event)
            metrics.DRAWDOWN_VIOLATIONS.inc()
        if isinstance(message, FillMessage | OrderEventMessage):
            self._remember(message, statuses)
        return Output(topic, event.account_id.encode(), encode(message))

    def _remember(
        self, message: FillMessage | OrderEventMessage, statuses: dict[str, dict]
    ) -> None:
        """Keep each order's latest status and its fills. An order's first event starts its
        status afresh (an order id may come back after the duplicate window); a duplicate's
        rejection is about another message and leaves the first order's status alone, as does a
        refused cancel or replace. A fill
        computed again after a crash replaces the one with its id."""
        key = pair_key(message.account_id, message.order_id)
        if isinstance(message, OrderEventMessage):
            if message.reason is Reason.DUPLICATE_ORDER_ID or message.status in (
                OrderStatus.CANCEL_REJECTED,
                OrderStatus.REPLACE_REJECTED,
            ):
                return
            if message.status in (OrderStatus.ACCEPTED, OrderStatus.REJECTED):
                statuses[key] = {"fills": []}
        status = statuses.get(key) or self._order_status.get(key) or {"fills": []}
        if isinstance(message, FillMessage):
            fill = message.model_dump(mode="json", exclude_none=True)
            others = [kept for kept in status["fills"] if kept["fill_id"] != message.fill_id]
            status["fills"] = [*others, fill]
        else:
            status.update(message.model_dump(mode="json", exclude_none=True, exclude={"order_id"}))
        statuses[key] = status
