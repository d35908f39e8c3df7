"""What upstream systems publish: instruments, accounts, ticks and orders.

Unknown fields are refused rather than ignored: a misspelt ``limit_prise`` must not silently
turn a limit order into something else.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fillstream.core.model import (
    BPS,
    HUNDRED,
    MAX_BALANCE,
    MAX_LEVERAGE,
    MAX_ORDER_PCT,
    MAX_PRICE,
    MAX_QUANTITY,
    Instrument,
    Kind,
    Order,
    OrderType,
    Outcome,
    Side,
)
from fillstream.wire.types import Identifier, Money, Symbol, Timestamp, bounded, rate


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentMessage(Inbound):
    """Registers or updates an instrument; topic ``instruments``, compacted, key = symbol."""

    symbol: Symbol
    kind: Kind
    taker_fee_bps: Annotated[Money, rate(BPS)]
    maker_fee_bps: Annotated[Money, rate(BPS)]
    slippage_bps: Annotated[Money, rate(BPS, strict=True)] = Field(
        description="Below 10 000: a sell at 100 % slippage would get nothing."
    )
    tick_size: Annotated[Money, bounded(MAX_PRICE)] | None = None
    lot_size: Annotated[Money, bounded(MAX_QUANTITY)] | None = None

    @model_validator(mode="after")
    def _prediction_ticks_inside_the_payout(self) -> InstrumentMessage:
        if self.kind is Kind.PREDICTION and self.tick_size is not None and self.tick_size >= 1:
            raise ValueError("a prediction market's tick_size must be below 1")
        return self


class AccountMessage(Inbound):
    """Opens an account (or updates its limits); topic ``accounts``, compacted, key = account_id."""

    account_id: Identifier
    starting_balance: Annotated[Money, bounded(MAX_BALANCE)]
    max_leverage: Annotated[Money, bounded(MAX_LEVERAGE)] | None = Field(
        None, description="Buying power as a multiple of equity; default 1."
    )
    max_order_pct: Annotated[Money, bounded(MAX_ORDER_PCT)] | None = Field(
        None, description="Largest position increase by one order, % of equity."
    )
    max_drawdown_pct: Annotated[Money, bounded(HUNDRED)] | None = None


class TickMessage(Inbound):
    """A last trade price; for a prediction market the YES price in (0, 1). Key = symbol."""

    symbol: Symbol
    price: Annotated[Money, bounded(MAX_PRICE)]
    ts: Timestamp


class OrderMessage(Inbound):
    """An order; key = account_id. Rules it breaks after parsing are INVALID_ORDER rejections."""

    order_id: Identifier
    account_id: Identifier
    symbol: Symbol
    side: Side
    outcome: Outcome | None = None
    type: OrderType
    quantity: Money
    limit_price: Money | None = None
    ts: Timestamp | None = None


def to_instrument(message: InstrumentMessage) -> Instrument:
    return Instrument(
        symbol=message.symbol,
        kind=message.kind,
        taker_fee_bps=message.taker_fee_bps,
        maker_fee_bps=message.maker_fee_bps,
        slippage_bps=message.slippage_bps,
        tick_size=message.tick_size,
        lot_size=message.lot_size,
    )


def to_order(message: OrderMessage) -> Order:
    return Order(
        order_id=message.order_id,
        account_id=message.account_id,
        symbol=message.symbol,
        side=message.side,
        type=message.type,
        quantity=message.quantity,
        outcome=message.outcome,
        limit_price=message.limit_price,
        ts=message.ts,
    )
