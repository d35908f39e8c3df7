"""What the rules decide: fills, order lifecycle events and risk events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from fillstream.core.model import (
    ZERO,
    Account,
    Liquidity,
    Outcome,
    Progress,
    Reason,
    RestingOrder,
    Side,
)


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PARTIALLY_FILLED = "partially_filled"
    """Part filled; the rest is still open."""
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    TRIGGERED = "triggered"
    """A stop or if-touched order reached its trigger and became its market or limit order."""
    CANCEL_REJECTED = "cancel_rejected"
    """A cancel the order did not take (it is unknown or closed); the order is unchanged."""
    REPLACE_REJECTED = "replace_rejected"
    """A replace the order did not take; the order keeps its quantity and price."""


TERMINAL = frozenset(
    {OrderStatus.REJECTED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
)
"""Every order ends with exactly one of these."""


class RiskEventType(StrEnum):
    DRAWDOWN_VIOLATION = "drawdown_violation"
    ACCOUNT_STATUS = "account_status"
    CONTROL = "control"
    EVALUATION = "evaluation"
    PROGRAM = "program"


@dataclass(frozen=True)
class Fill:
    fill_id: str
    order_id: str
    account_id: str
    symbol: str
    side: Side
    outcome: Outcome | None
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    liquidation: bool
    ts: datetime
    position_quantity: Decimal
    position_avg_price: Decimal
    cash_after: Decimal
    equity_after: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True)
class OrderEvent:
    """A change of an order's state, with where it stands after it: what has filled (and its
    average price) and what is still open. A refused cancel or replace has neither."""

    order_id: str
    account_id: str
    status: OrderStatus
    ts: datetime
    reason: Reason | None = None
    detail: str | None = None
    filled_quantity: Decimal | None = None
    leaves_quantity: Decimal | None = None
    avg_price: Decimal | None = None


@dataclass(frozen=True)
class DrawdownViolation:
    account_id: str
    max_drawdown_pct: Decimal
    drawdown_pct: Decimal
    equity: Decimal
    peak_equity: Decimal
    ts: datetime
    type: RiskEventType = RiskEventType.DRAWDOWN_VIOLATION


@dataclass(frozen=True)
class AccountStatusChanged:
    account_id: str
    status: str
    reason: str
    ts: datetime
    type: RiskEventType = RiskEventType.ACCOUNT_STATUS


@dataclass(frozen=True)
class ControlApplied:
    """The audit record of an operator's control: what was asked, by whom and why, and whether
    it was applied or refused (with what it did, or why not)."""

    account_id: str
    action: str
    result: str
    operator: str
    reason: str | None
    detail: str
    ts: datetime
    type: RiskEventType = RiskEventType.CONTROL


@dataclass(frozen=True)
class EvaluationDecided:
    """An account's evaluation program decided something, once: ``passed``, ``failed`` (a
    hard breach), ``locked`` (a soft one, until the next reset) or ``unlocked`` (the reset);
    and ``day_closed`` once per program day that ended (its starting and ending equity)."""

    account_id: str
    program_id: str
    outcome: str
    rule: str
    threshold: Decimal
    measured: Decimal
    detail: str
    ts: datetime
    day: str | None = None
    """For ``day_closed``: the program day (its ISO date) that ended."""
    type: RiskEventType = RiskEventType.EVALUATION


@dataclass(frozen=True)
class ProgramChanged:
    """A partition applied a program's rules (new or changed): the audit record, one per
    partition, under the account id ``~programs``."""

    program_id: str
    partition: int
    rules: str
    ts: datetime
    account_id: str = "~programs"
    type: RiskEventType = RiskEventType.PROGRAM

    @property
    def detail(self) -> str:
        return f"partition {self.partition}: {self.rules}"


Event = (
    Fill | OrderEvent | DrawdownViolation | AccountStatusChanged | ControlApplied
    | EvaluationDecided | ProgramChanged
)  # fmt: skip


def order_event(
    order_id: str,
    account_id: str,
    status: OrderStatus,
    now: datetime,
    progress: Progress,
    leaves: Decimal,
    reason: Reason | None = None,
    detail: str | None = None,
) -> OrderEvent:
    return OrderEvent(order_id, account_id, status, now, reason, detail, progress.filled, leaves,
                      progress.avg_price)  # fmt: skip


def ended(
    account: Account,
    resting: RestingOrder,
    status: OrderStatus,
    now: datetime,
    reason: Reason | None = None,
    detail: str | None = None,
) -> OrderEvent:
    """An open order's end (cancelled, expired): what had filled of it, and nothing left open."""
    return order_event(resting.order.order_id, account.account_id, status, now,
                        resting.progress, ZERO, reason, detail)  # fmt: skip
