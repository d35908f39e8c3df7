"""What upstream systems publish: instruments, accounts, ticks, orders, resolutions and controls
(programs are in `programs`).

Unknown fields are refused rather than ignored: a misspelt ``limit_prise`` must not silently
turn a limit order into something else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    model_validator,
)

from fillstream.core.controls import FIRM, Action, Control
from fillstream.core.model import (
    BPS,
    HUNDRED,
    MAX_BALANCE,
    MAX_LEVERAGE,
    MAX_ORDER_PCT,
    MAX_PRICE,
    MAX_QUANTITY,
    ONE,
    PLACES,
    Cancel,
    Instrument,
    Kind,
    OffsetType,
    Order,
    OrderType,
    Outcome,
    Quote,
    Replace,
    Resolution,
    Result,
    Side,
    TimeInForce,
)
from fillstream.wire.programs import ProgramRules
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
    max_drawdown_pct: Annotated[Money, bounded(HUNDRED)] | None = Field(
        None, description="Default 10, or none (100) for an account in a program."
    )
    program_id: Identifier | None = Field(
        None, description="The evaluation program the account runs (topic `programs`)."
    )
    program_overrides: ProgramRules | None = Field(
        None, description="The account's own values for some of its program's rules."
    )


class TickMessage(Inbound):
    """A last trade price, and optionally the best bid and ask with their sizes and the trade's
    size; for a prediction market every price is a YES price in (0, 1). Key = symbol."""

    symbol: Symbol
    price: Annotated[Money, Field(ge=0, le=MAX_PRICE, decimal_places=PLACES)] = Field(
        description="Above 0; a prediction market's may be at its bounds, 0 or 1 (resolving)."
    )
    ts: Timestamp
    size: Annotated[Money, bounded(MAX_QUANTITY)] | None = Field(
        None, description="The last trade's quantity: what it can fill of resting limits."
    )
    bid: Annotated[Money, bounded(MAX_PRICE)] | None = None
    ask: Annotated[Money, bounded(MAX_PRICE)] | None = None
    bid_size: Annotated[Money, bounded(MAX_QUANTITY)] | None = Field(
        None, description="Quantity quoted at the bid; with a bid only."
    )
    ask_size: Annotated[Money, bounded(MAX_QUANTITY)] | None = Field(
        None, description="Quantity quoted at the ask; with an ask only."
    )

    @model_validator(mode="after")
    def _a_quote_that_can_trade(self) -> TickMessage:
        if self.bid_size is not None and self.bid is None:
            raise ValueError("bid_size needs a bid")
        if self.ask_size is not None and self.ask is None:
            raise ValueError("ask_size needs an ask")
        if self.bid is not None and self.ask is not None and self.bid >= self.ask:
            raise ValueError(f"bid {self.bid} must be below ask {self.ask}")
        return self

    def quote(self) -> Quote | None:
        """What the rules see of it beside the price, if it says anything."""
        if self.bid is None and self.ask is None and self.size is None:
            return None
        return Quote(self.bid, self.ask, self.bid_size, self.ask_size, self.size)


class ResolutionMessage(Inbound):
    """How a prediction market resolved; topic ``resolutions``, compacted, key = symbol. Its
    positions are paid out, its resting orders cancelled, and it takes no more orders."""

    symbol: Symbol
    result: Result
    yes_payout: Annotated[Money, rate(ONE, strict=True)] | None = Field(
        None, description="With result split only: what a YES share pays, in (0, 1)."
    )
    ts: Timestamp | None = None

    @model_validator(mode="after")
    def _a_payout_with_a_split(self) -> ResolutionMessage:
        if (self.result is Result.SPLIT) != (self.yes_payout is not None):
            raise ValueError("yes_payout goes with result split, and only with it")
        if self.yes_payout is not None and self.yes_payout == 0:
            raise ValueError("a split's yes_payout is above 0 (else the market resolved no)")
        return self


def to_resolution(message: ResolutionMessage) -> Resolution:
    return Resolution(message.symbol, message.result, message.yes_payout)


class ControlRequest(Inbound):
    """An operator's control of one account; topic ``controls``, key = account_id."""

    account_id: Identifier
    action: Action
    operator: Identifier = Field(description="Who sent it, for the audit record.")
    reason: Annotated[str, Field(max_length=500)] | None = None
    ts: Timestamp | None = None


def to_control(message: ControlRequest | FirmControlRequest) -> Control:
    account_id = message.account_id if isinstance(message, ControlRequest) else FIRM
    return Control(account_id, message.action, message.operator, message.reason)


class FirmControlRequest(Inbound):
    """The kill switch: a control of every account at once; topic ``firm-controls``, any key.
    Closing every account is not one of its actions."""

    action: Literal[Action.HALT, Action.REDUCE, Action.RESUME, Action.FLATTEN]
    operator: Identifier = Field(description="Who sent it, for the audit record.")
    reason: Annotated[str, Field(max_length=500)] | None = None
    ts: Timestamp | None = None


class OrderMessage(Inbound):
    """A new order; key = account_id. Rules it breaks after parsing are INVALID_ORDER
    rejections."""

    action: Literal["new"] = "new"
    order_id: Identifier
    account_id: Identifier
    symbol: Symbol
    side: Side
    outcome: Outcome | None = None
    type: OrderType
    quantity: Money
    limit_price: Money | None = None
    trigger_price: Money | None = Field(
        None, description="Stops and if-touched orders; a trailing stop's first trigger."
    )
    trailing_offset: Money | None = Field(None, description="Trailing stops.")
    trailing_offset_type: OffsetType = OffsetType.PRICE
    limit_offset: Money | None = Field(
        None, description="Trailing stop limits: the limit's distance beyond the trigger."
    )
    take_profit_price: Money | None = Field(
        None, description="A bracket: the reduce-only take-profit limit placed once it fills."
    )
    stop_loss_price: Money | None = Field(
        None, description="A bracket: the reduce-only stop-loss trigger placed once it fills."
    )
    oco_with: Identifier | None = Field(
        None, description="An open order of the account: when either fills, the other ends."
    )
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at: Timestamp | None = Field(None, description="With time_in_force gtd only.")
    post_only: bool = Field(False, description="Limit orders: rejected if marketable on arrival.")
    reduce_only: bool = Field(False, description="Never grows the position.")
    ts: Timestamp | None = None


class CancelMessage(Inbound):
    """Cancel an open order of the account; key = account_id."""

    action: Literal["cancel"]
    order_id: Identifier
    account_id: Identifier
    ts: Timestamp | None = None


class ReplaceMessage(Inbound):
    """Change an open order's quantity and/or limit price; it keeps its order_id. Key =
    account_id."""

    action: Literal["replace"]
    order_id: Identifier
    account_id: Identifier
    quantity: Money | None = None
    limit_price: Money | None = None
    trigger_price: Money | None = None
    ts: Timestamp | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> ReplaceMessage:
        if self.quantity is None and self.limit_price is None and self.trigger_price is None:
            raise ValueError("a replace needs a new quantity, limit_price or trigger_price")
        return self


def _action(payload: Any) -> str:
    """Orders written before commands existed have no ``action``: they are new orders."""
    if isinstance(payload, dict):
        return str(payload.get("action", "new"))
    return str(getattr(payload, "action", "new"))


class OrderCommand(RootModel[Annotated[
    Annotated[OrderMessage, Tag("new")]
    | Annotated[CancelMessage, Tag("cancel")]
    | Annotated[ReplaceMessage, Tag("replace")],
    Discriminator(_action),
]]):  # fmt: skip
    """What topic ``orders`` carries: a new order (``action`` "new", or absent), a cancel or a
    replace."""

    model_config = ConfigDict(frozen=True)


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
        trigger_price=message.trigger_price,
        trailing_offset=message.trailing_offset,
        trailing_offset_type=message.trailing_offset_type,
        limit_offset=message.limit_offset,
        ts=message.ts,
        time_in_force=message.time_in_force,
        expire_at=message.expire_at,
        post_only=message.post_only,
        reduce_only=message.reduce_only,
        take_profit_price=message.take_profit_price,
        stop_loss_price=message.stop_loss_price,
        oco_with=message.oco_with,
    )


def to_command(message: CancelMessage | ReplaceMessage) -> Cancel | Replace:
    if isinstance(message, CancelMessage):
        return Cancel(message.order_id, message.account_id)
    return Replace(
        message.order_id,
        message.account_id,
        message.quantity,
        message.limit_price,
        message.trigger_price,
    )
