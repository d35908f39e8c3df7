"""The checks an order passes before it is placed: well formed for its instrument, then its risk
(shares on offer, reduce-only, buying power). A failed check is a `Rejected` with its reason."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from fillstream.core import buying_power, evaluation, ledger, pricing, triggers
from fillstream.core.contingent import exit_fee_bps, exits
from fillstream.core.model import (
    BPS,
    ENGINE_ID_PREFIX,
    HUNDRED,
    MAX_PRICE,
    MAX_QUANTITY,
    PLACES,
    ZERO,
    Account,
    Instrument,
    Kind,
    Market,
    OffsetType,
    Order,
    OrderType,
    Progress,
    Reason,
    RestingOrder,
    Side,
    TimeInForce,
    TradingState,
    copy_account,
    position_key,
    within,
)


class Rejected(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


PRICE_FIELDS = ("limit_price", "trigger_price", "trailing_offset", "limit_offset")


NEEDS: dict[OrderType, frozenset[str]] = {
    OrderType.MARKET: frozenset(),
    OrderType.LIMIT: frozenset({"limit_price"}),
    OrderType.STOP_MARKET: frozenset({"trigger_price"}),
    OrderType.MARKET_IF_TOUCHED: frozenset({"trigger_price"}),
    OrderType.STOP_LIMIT: frozenset({"trigger_price", "limit_price"}),
    OrderType.LIMIT_IF_TOUCHED: frozenset({"trigger_price", "limit_price"}),
    OrderType.TRAILING_STOP_MARKET: frozenset({"trailing_offset"}),
    OrderType.TRAILING_STOP_LIMIT: frozenset({"trailing_offset", "limit_offset"}),
}
"""The prices each order type must carry."""


MAY: dict[OrderType, frozenset[str]] = {
    order_type: frozenset({"trigger_price"} if order_type in triggers.TRAILING else ())
    for order_type in OrderType
}
"""And those it may: a trailing stop's first trigger (by default its offset from the last
price)."""


def check_well_formed(order: Order, instrument: Instrument | None) -> None:
    def invalid(detail: str) -> Rejected:
        return Rejected(Reason.INVALID_ORDER, detail)

    if order.order_id.startswith(ENGINE_ID_PREFIX):
        raise invalid(f"order_id may not start with {ENGINE_ID_PREFIX!r}: the engine's own ids do")
    if problem := _amount_problem("quantity", order.quantity, MAX_QUANTITY):
        raise invalid(problem)
    if (order.time_in_force is TimeInForce.GTD) != (order.expire_at is not None):
        raise invalid("expire_at goes with time_in_force gtd, and only with it")
    if order.type is OrderType.MARKET and order.time_in_force in (
        TimeInForce.GTD,
        TimeInForce.DAY,
    ):
        raise invalid("a market order fills at once: time_in_force gtc, ioc or fok")
    if order.type is not OrderType.LIMIT and order.post_only:
        raise invalid("post_only goes with limit orders")
    if triggers.waits(order) and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        raise invalid(f"a {order.type.value} order waits for its trigger: gtc, gtd or day")
    for name in PRICE_FIELDS:
        value = getattr(order, name)
        if name in NEEDS[order.type] and value is None:
            raise invalid(f"a {order.type.value} order needs a {name}")
        if name not in NEEDS[order.type] | MAY[order.type] and value is not None:
            raise invalid(f"a {order.type.value} order takes no {name}")
        if value is not None and (problem := _amount_problem(name, value, MAX_PRICE)):
            raise invalid(problem)
    for name in ("take_profit_price", "stop_loss_price"):
        value = getattr(order, name)
        if value is not None and (problem := _amount_problem(name, value, MAX_PRICE)):
            raise invalid(problem)
    if (order.take_profit_price or order.stop_loss_price) and order.reduce_only:
        raise invalid("a bracket's entry opens a position: it cannot be reduce_only")
    if order.take_profit_price is not None and order.stop_loss_price is not None:
        buy = order.side is Side.BUY
        if (
            (order.take_profit_price <= order.stop_loss_price)
            if buy
            else (order.take_profit_price >= order.stop_loss_price)
        ):
            raise invalid("take_profit_price must be beyond stop_loss_price in the order's favour")
    if order.trailing_offset_type is OffsetType.BPS and (order.trailing_offset or 0) >= BPS:
        raise invalid("a trailing_offset in bps must be below 10 000")
    if instrument is None:
        return
    if instrument.kind is Kind.PREDICTION:
        if order.outcome is None:
            raise invalid("a prediction order needs an outcome (yes or no)")
        for name in ("limit_price", "trigger_price"):
            value = getattr(order, name)
            if value is not None and value >= 1:
                raise invalid(f"a prediction {name} must be below 1")
    elif order.outcome is not None:
        raise invalid("a crypto order takes no outcome")
    if instrument.lot_size and order.quantity % instrument.lot_size != 0:
        raise invalid(f"quantity must be a multiple of the lot size {instrument.lot_size}")
    if (
        instrument.tick_size
        and order.trigger_price is not None
        and order.trigger_price % instrument.tick_size != 0
        and order.type not in triggers.TRAILING
    ):
        raise invalid(f"trigger_price must be a multiple of the tick size {instrument.tick_size}")
    if (
        instrument.tick_size
        and order.limit_price is not None
        and order.limit_price % instrument.tick_size != 0
    ):
        raise invalid(f"limit_price must be a multiple of the tick size {instrument.tick_size}")


def _amount_problem(name: str, value: Decimal, largest: Decimal) -> str | None:
    if value <= 0:
        return f"{name} must be positive"
    if not within(value, largest):
        return f"{name} must be at most {largest} with at most {PLACES} decimal places"
    return None


@dataclass(frozen=True)
class Plan:
    """An order as placing it would leave it: the parts that fill now (with their fees), and
    the quantity that rests, at ``rest_fee_bps``."""

    takes: list[tuple[Decimal, Decimal]]
    fees: list[Decimal]
    rest: Decimal
    rest_fee_bps: Decimal


def check_risk(
    account: Account,
    order: Order,
    instrument: Instrument,
    market: Market,
    plan: Plan,
    progress: Progress,
) -> None:
    """What every placed order passes, filling now or resting: shares on offer, reduce-only,
    and buying power for the part that grows its position."""
    if instrument.kind is Kind.PREDICTION and order.side is Side.SELL:
        _check_position_on_offer(account, order)
    growth = buying_power.growth(account, order)
    if growth and TradingState.REDUCING in (account.state, market.trading):
        whose = "the account" if account.state is TradingState.REDUCING else "the firm"
        raise Rejected(
            Reason.ACCOUNT_REDUCING,
            f"{whose} may only reduce positions; the order would grow one by {growth}",
        )
    if growth and order.reduce_only:
        raise Rejected(
            Reason.REDUCE_ONLY_WOULD_INCREASE,
            f"reduce_only order would grow the position by {growth}",
        )
    if growth:
        _check_buying_power(account, order, market, plan, progress, growth)


def _check_buying_power(
    account: Account,
    order: Order,
    market: Market,
    plan: Plan,
    progress: Progress,
    growth: Decimal,
) -> None:
    """The order as if placed (its parts filled now, with a bracket's exits resting after them,
    and the rest resting), then the account-wide model on the result."""
    marks = pricing.marks_of(account, market)
    equity = ledger.equity(account, marks)
    largest = account.limits.max_order_pct / HUNDRED * equity
    prices = [price for _, price in plan.takes]
    if plan.rest:
        prices.append(triggers.reservation_price(order))
    if growth * max(prices) > largest:
        raise Rejected(
            Reason.RISK_LIMIT,
            f"notional {growth * max(prices)} that the order adds exceeds "
            f"{account.limits.max_order_pct}% of equity {equity}",
        )
    if (why := evaluation.check_position(account, order, market, growth, max(prices))) is not None:
        raise Rejected(Reason.POSITION_LIMIT, why)
    after = copy_account(account)
    key = position_key(order.symbol, order.outcome)
    filled = progress.filled
    for (quantity, price), fee in zip(plan.takes, plan.fees, strict=True):
        ledger.apply_trade(after, key, order.side, quantity, price, fee)
        filled += quantity
    if plan.takes:
        instrument = market.instrument(order.symbol)
        assert instrument is not None
        for exit_order in exits(order, filled):
            after.resting[exit_order.order_id] = RestingOrder(
                exit_order, exit_fee_bps(exit_order, instrument)
            )
    if plan.rest:
        rest = replace(order, quantity=plan.rest)
        after.resting[order.order_id] = RestingOrder(rest, plan.rest_fee_bps)
    committed = buying_power.commitment(after, pricing.marks_of(after, market))
    if committed.exceeded:
        raise Rejected(
            Reason.INSUFFICIENT_FUNDS,
            f"commitment {committed.used} would exceed buying power {committed.power} "
            f"(equity less resting fees, times leverage {account.limits.max_leverage})",
        )
    if order.outcome is not None and order.side is Side.BUY and committed.free_cash < 0:
        raise Rejected(
            Reason.INSUFFICIENT_FUNDS,
            f"the purchase would need {-committed.free_cash} more cash than is free "
            "(cash less crypto short liabilities and resting prediction buys)",
        )


def _check_position_on_offer(account: Account, order: Order) -> None:
    """Prediction shares are sold only from what is held and not already on offer."""
    key = position_key(order.symbol, order.outcome)
    held = account.positions[key].quantity if key in account.positions else ZERO
    promised = sum(
        (
            resting.order.quantity
            for resting in account.resting.values()
            if resting.order.side is Side.SELL
            and position_key(resting.order.symbol, resting.order.outcome) == key
        ),
        ZERO,
    )
    if order.quantity > held - promised:
        raise Rejected(
            Reason.INSUFFICIENT_POSITION,
            f"selling {order.quantity} of {key} but {held - promised} held and not on offer",
        )
