"""What upstream systems publish: instruments, accounts, ticks and orders.

Unknown fields are refused rather than ignored: a misspelt ``limit_prise`` must not silently
turn a limit order into something else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fillstream.core.model import Instrument, Kind, Order, OrderType, Outcome, Side
from fillstream.schemas.types import Identifier, Money, Symbol, Timestamp


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentMessage(Inbound):
    """Registers or updates an instrument; topic ``instruments``, compacted, key = symbol."""

    symbol: Symbol
    kind: Kind
    taker_fee_bps: Money = Field(ge=0)
    maker_fee_bps: Money = Field(ge=0)
    slippage_bps: Money = Field(ge=0)
    tick_size: Money | None = Field(None, gt=0)
    lot_size: Money | None = Field(None, gt=0)


class AccountMessage(Inbound):
    """Opens an account (or updates its limits); topic ``accounts``, compacted, key = account_id."""

    account_id: Identifier
    starting_balance: Money = Field(gt=0)
    max_leverage: Money | None = Field(None, gt=0, description="Crypto margin; default 1.")
    max_order_pct: Money | None = Field(None, gt=0, description="Largest order, % of equity.")
    max_drawdown_pct: Money | None = Field(None, gt=0, le=100)


class TickMessage(Inbound):
    """A last trade price; for a prediction market the YES price in (0, 1). Key = symbol."""

    symbol: Symbol
    price: Money = Field(gt=0)
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
