"""What fillstream publishes downstream: fills, order events, risk events, dead letters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fillstream.core.events import OrderStatus
from fillstream.core.model import Liquidity, Outcome, Reason, Side
from fillstream.wire.types import Money, Timestamp


class Outbound(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class FillMessage(Outbound):
    """One execution; topic ``fills``, key = account_id. ``fill_id`` is unique and stable."""

    fill_id: str
    order_id: str
    account_id: str
    symbol: str
    side: Side
    outcome: Outcome | None = None
    quantity: Money
    price: Money
    fee: Money
    liquidity: Liquidity
    liquidation: bool
    ts: Timestamp
    position_quantity: Money = Field(description="Signed position after this fill.")
    position_avg_price: Money = Field(description="Average entry price after this fill.")
    cash_after: Money
    equity_after: Money = Field(description="Cash plus positions at the latest prices.")
    realized_pnl: Money = Field(description="Realized by this fill, before its fee.")


class OrderEventMessage(Outbound):
    """An order's lifecycle; topic ``order-events``, key = account_id."""

    order_id: str
    account_id: str
    status: OrderStatus
    reason: Reason | None = None
    detail: str | None = None
    ts: Timestamp
    filled_quantity: Money | None = Field(
        None, description="Filled so far (all of it, on a terminal event); null on a refused "
        "cancel or replace."
    )  # fmt: skip
    leaves_quantity: Money | None = Field(
        None, description="Still open after this event: 0 once the order has ended."
    )
    avg_price: Money | None = Field(
        None, description="Average price of what has filled; null while nothing has."
    )


class DrawdownViolationMessage(Outbound):
    type: Literal["drawdown_violation"]
    account_id: str
    max_drawdown_pct: Money
    drawdown_pct: Money
    equity: Money
    peak_equity: Money
    ts: Timestamp


class AccountStatusMessage(Outbound):
    type: Literal["account_status"]
    account_id: str
    status: Literal["active", "reducing", "halted", "closed"]
    reason: str
    ts: Timestamp


class ControlMessage(Outbound):
    """The audit record of an operator's control, applied or refused."""

    type: Literal["control"]
    account_id: str
    action: Literal["halt", "reduce", "resume", "flatten", "close"]
    result: Literal["applied", "refused"]
    operator: str
    reason: str | None = Field(None, description="Why the operator sent it, as they said.")
    detail: str = Field(description="The state change (`active -> halted`), or why refused.")
    ts: Timestamp


class EvaluationMessage(Outbound):
    """What an account's evaluation program decided, once each: passed, failed (a hard
    breach), locked (a soft one, until the next reset) or unlocked (the reset); and each
    program day that ended (day_closed)."""

    type: Literal["evaluation"]
    account_id: str
    program_id: str
    outcome: Literal["passed", "failed", "locked", "unlocked", "day_closed"]
    rule: Literal[
        "daily_loss", "max_loss", "max_duration", "profit_target", "max_drawdown", "program_day"
    ]
    threshold: Money = Field(description="The rule's limit: a loss, a floor, days, the target.")
    measured: Money = Field(description="Where the account stood against it.")
    detail: str
    ts: Timestamp
    day: str | None = Field(
        None, description="For day_closed: the program day that ended (ISO date); threshold "
        "and measured are its starting and ending equity."
    )  # fmt: skip


class ProgramMessageApplied(Outbound):
    """A partition applied a program's rules (new or changed), from ``ts`` on: the audit."""

    type: Literal["program"]
    account_id: Literal["~programs"]
    program_id: str
    detail: str = Field(description="`partition <p>: <the rules, as JSON>`.")
    ts: Timestamp


RiskEventMessage = Annotated[
    DrawdownViolationMessage | AccountStatusMessage | ControlMessage | EvaluationMessage
    | ProgramMessageApplied,
    Field(discriminator="type"),
]  # fmt: skip
"""Topic ``risk-events``, key = account_id."""


class DeadLetterMessage(Outbound):
    """A message that could not be parsed or validated, kept whole with the reason."""

    source_topic: str
    partition: int
    offset: int
    key: str | None
    key_encoding: Literal["utf-8", "base64"] = "utf-8"
    value: str | None
    value_encoding: Literal["utf-8", "base64"] = "utf-8"
    error: str
    ts: Timestamp
