"""The execution-and-risk rules: pre-trade checks, fills, resting limits, marks and drawdown halts.

Every function takes the account's state and what the market looks like, mutates the state and
returns the events to publish. Same inputs, same events. Fill ids number the account's fills
(``<account_id>#<n>``), so they never repeat, and a consumer can see a gap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from fillstream.core import buying_power, ledger, pricing, triggers
from fillstream.core.events import (
    AccountStatusChanged,
    DrawdownViolation,
    Event,
    Fill,
    OrderEvent,
    OrderStatus,
)
from fillstream.core.model import (
    BPS,
    ENGINE_ID_PREFIX,
    EXACT,
    HUNDRED,
    MAX_PRICE,
    MAX_QUANTITY,
    PLACES,
    ZERO,
    Account,
    AccountLimits,
    Cancel,
    Instrument,
    Kind,
    Liquidity,
    OffsetType,
    Order,
    OrderIds,
    OrderType,
    Reason,
    Replace,
    RestingOrder,
    SeenOrder,
    Session,
    Side,
    TimeInForce,
    position_key,
    rounded,
    split_position_key,
    within,
)


@dataclass(frozen=True)
class Market:
    """What the rules may know of the market: instruments and last trade prices, by symbol."""

    instrument: Callable[[str], Instrument | None]
    last_price: Callable[[str], Decimal | None]


UTC_DAYS = Session()
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


class Rejected(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def open_account(account_id: str, starting_balance: Decimal, limits: AccountLimits) -> Account:
    return Account(
        account_id=account_id,
        starting_balance=starting_balance,
        cash=starting_balance,
        peak_equity=starting_balance,
        limits=limits,
    )


def submit_order(
    account: Account | None,
    order: Order,
    market: Market,
    *,
    order_ids: OrderIds,
    now: datetime,
    offset: int,
    duplicate_window: timedelta,
    session: Session = UTC_DAYS,
) -> list[Event]:
    with localcontext(EXACT):
        expired = expire(account, now) if account is not None else []
        try:
            return expired + _execute(
                account, order, market, order_ids, now, offset, duplicate_window, session
            )
        except Rejected as rejection:
            rejected = OrderEvent(
                order.order_id,
                order.account_id,
                OrderStatus.REJECTED,
                now,
                rejection.reason,
                rejection.detail,
            )
            return [*expired, rejected]


def _execute(
    account: Account | None,
    order: Order,
    market: Market,
    order_ids: OrderIds,
    now: datetime,
    offset: int,
    duplicate_window: timedelta,
    session: Session,
) -> list[Event]:
    instrument = market.instrument(order.symbol)
    _check_well_formed(order, instrument)
    if order.time_in_force is TimeInForce.GTD:
        assert order.expire_at is not None  # checked as well formed
        if order.expire_at <= now:
            raise Rejected(Reason.INVALID_ORDER, f"expire_at {order.expire_at} is not after {now}")
    elif order.time_in_force is TimeInForce.DAY:
        order = replace(order, expire_at=session.end_of_day(now))
    if account is None:
        raise Rejected(Reason.UNKNOWN_ACCOUNT, f"no account {order.account_id!r}")
    if account.halted:
        raise Rejected(Reason.ACCOUNT_HALTED, "account halted after a drawdown violation")
    seen = order_ids.get(order.order_id)
    # The same message applied again after a crash lost its state is not a duplicate of itself.
    if seen is not None and seen.offset != offset and seen.ts >= now - duplicate_window:
        raise Rejected(Reason.DUPLICATE_ORDER_ID, f"order_id {order.order_id!r} already used")
    order_ids.add(order.order_id, SeenOrder(now, offset))
    if instrument is None:
        raise Rejected(Reason.UNKNOWN_SYMBOL, f"no instrument {order.symbol!r}")
    if order.oco_with is not None:
        other = account.resting.get(order.oco_with)
        if other is None or other.order.oco_with is not None:
            detail = f"oco_with {order.oco_with!r} is not an open order without a link"
            raise Rejected(Reason.INVALID_ORDER, detail)
    accepted = OrderEvent(order.order_id, account.account_id, OrderStatus.ACCEPTED, now)
    events = [accepted, *_place(account, order, instrument, market, now)]
    if order.oco_with is not None and order.oco_with in account.resting:
        other = account.resting[order.oco_with]
        linked = replace(other.order, oco_with=order.order_id)
        account.resting[order.oco_with] = replace(other, order=linked)
    return events


def _place(
    account: Account, order: Order, instrument: Instrument, market: Market, now: datetime
) -> list[Event]:
    """Fill the order at once if it is marketable, else rest it (or cancel it: IOC, FOK), after
    the risk checks; what an accepted order, or a replaced one, goes through."""
    last = market.last_price(order.symbol)
    if last is None or not pricing.valid_reference(instrument, last):
        raise Rejected(Reason.NO_MARKET_DATA, f"no usable tick yet for {order.symbol!r}")

    reference = pricing.outcome_price(instrument, last, order.outcome)
    if triggers.waits(order):
        return _wait(account, triggers.trailed(order, reference, instrument), instrument, market,
                     reference)  # fmt: skip
    limit = order.limit_price  # set exactly when the order is a limit (checked above)
    immediate = limit is None or pricing.marketable(order.side, reference, limit)
    if limit is None:
        price = pricing.taker_price(instrument, reference, order.side)
    elif immediate:
        price = pricing.limit_taker_price(instrument, reference, order.side, limit)
    else:
        price = limit
    fee_bps = instrument.taker_fee_bps if immediate else instrument.maker_fee_bps
    if order.post_only and immediate:
        raise Rejected(
            Reason.POST_ONLY_WOULD_TAKE, f"post_only limit {limit} is marketable at {reference}"
        )
    fee = pricing.trade_fee(order.quantity, price, order.side, fee_bps) if immediate else None
    _check_risk(account, order, instrument, market, price, fee, fee_bps)
    if fee is None:
        if order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            # Checked as if it rested, as the same order good till cancelled would be.
            detail = f"{order.time_in_force.value}: not marketable on arrival"
            return [OrderEvent(order.order_id, account.account_id, OrderStatus.CANCELLED, now,
                               detail=detail)]  # fmt: skip
        account.resting[order.order_id] = RestingOrder(order, fee_bps)
        return []
    events = _fill(account, market, order, price, fee, Liquidity.TAKER, now)
    return events + _mark(account, market, now)


def _wait(
    account: Account, order: Order, instrument: Instrument, market: Market, reference: Decimal
) -> list[Event]:
    """Rest a stop or if-touched order until its trigger, after the same checks as a resting
    limit: reserved at its trigger (`triggers.reservation_price`) with the taker fee, since it
    will take when it triggers."""
    assert order.trigger_price is not None
    if triggers.reached(order, reference):
        raise Rejected(
            Reason.INVALID_ORDER,
            f"trigger_price {order.trigger_price} is already reached at {reference}",
        )
    fee_bps = instrument.taker_fee_bps
    price = triggers.reservation_price(order)
    _check_risk(account, order, instrument, market, price, None, fee_bps)
    account.resting[order.order_id] = RestingOrder(order, fee_bps)
    return []


def _check_risk(
    account: Account,
    order: Order,
    instrument: Instrument,
    market: Market,
    price: Decimal,
    fee: Decimal | None,
    fee_bps: Decimal,
) -> None:
    """What every placed order passes, filling now (with its taker ``fee``) or resting: shares
    on offer, reduce-only, and buying power for the part that grows its position."""
    if instrument.kind is Kind.PREDICTION and order.side is Side.SELL:
        _check_position_on_offer(account, order)
    growth = buying_power.growth(account, order)
    if growth and order.reduce_only:
        raise Rejected(
            Reason.REDUCE_ONLY_WOULD_INCREASE,
            f"reduce_only order would grow the position by {growth}",
        )
    if growth:
        _check_buying_power(account, order, market, price, fee, fee_bps, growth)


def cancel(
    account: Account | None, command: Cancel, order_ids: OrderIds, now: datetime
) -> list[Event]:
    """Cancel an open order: a ``cancelled`` event, or a ``cancel_rejected`` that says why not."""
    with localcontext(EXACT):
        expired = expire(account, now) if account is not None else []
        try:
            _open_order(account, command.order_id, command.account_id, order_ids)
        except Rejected as rejection:
            return [*expired, _refused(command, OrderStatus.CANCEL_REJECTED, rejection, now)]
        assert account is not None
        del account.resting[command.order_id]
        cancelled = OrderEvent(command.order_id, account.account_id, OrderStatus.CANCELLED,
                               now, detail="cancelled by the trader")  # fmt: skip
        return [*expired, cancelled]


def replace_order(
    account: Account | None,
    command: Replace,
    market: Market,
    order_ids: OrderIds,
    now: datetime,
) -> list[Event]:
    """Change an open order: checked as a new order would be, on the account without the old
    one, and kept only if accepted; a ``replaced`` event (then its fill if it has become
    marketable), or a ``replace_rejected`` and the order as it was."""
    with localcontext(EXACT):
        expired = expire(account, now) if account is not None else []
        try:
            resting = _open_order(account, command.order_id, command.account_id, order_ids)
            assert account is not None
            old = resting.order
            new = replace(
                old,
                quantity=command.quantity if command.quantity is not None else old.quantity,
                limit_price=(
                    command.limit_price if command.limit_price is not None else old.limit_price
                ),
                trigger_price=(
                    command.trigger_price
                    if command.trigger_price is not None
                    else old.trigger_price
                ),
            )
            instrument = market.instrument(new.symbol)
            assert instrument is not None  # it rests on it
            _check_well_formed(new, instrument)
            trial = copy_account(account)
            del trial.resting[new.order_id]
            placed = _place(trial, new, instrument, market, now)
        except Rejected as rejection:
            return [*expired, _refused(command, OrderStatus.REPLACE_REJECTED, rejection, now)]
        for name in ("cash", "peak_equity", "halted", "fills", "positions", "resting"):
            setattr(account, name, getattr(trial, name))
        changes = [
            f"{name} {before} -> {after}"
            for name, before, after in (
                ("quantity", old.quantity, new.quantity),
                ("limit_price", old.limit_price, new.limit_price),
                ("trigger_price", old.trigger_price, new.trigger_price),
            )
            if before != after
        ]
        replaced = OrderEvent(new.order_id, account.account_id, OrderStatus.REPLACED, now,
                              detail=", ".join(changes) or "unchanged")  # fmt: skip
        return [*expired, replaced, *placed]


def expire(account: Account, now: datetime) -> list[Event]:
    """End the account's GTD and DAY orders whose time has come: checked at every input that
    reaches the account (its orders and commands, and ticks of what it holds or rests on), at
    that input's time."""
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        expire_at = resting.order.expire_at
        if expire_at is not None and expire_at <= now:
            del account.resting[order_id]
            events.append(OrderEvent(order_id, account.account_id, OrderStatus.EXPIRED, now,
                                     detail=f"expired at {expire_at.isoformat()}"))  # fmt: skip
    return events


def _open_order(
    account: Account | None, order_id: str, account_id: str, order_ids: OrderIds
) -> RestingOrder:
    if account is None:
        raise Rejected(Reason.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
    resting = account.resting.get(order_id)
    if resting is not None:
        return resting
    if order_ids.get(order_id) is None:
        raise Rejected(Reason.UNKNOWN_ORDER, f"no order {order_id!r} on this account")
    raise Rejected(Reason.ORDER_CLOSED, f"order {order_id!r} is no longer open")


def _refused(
    command: Cancel | Replace, status: OrderStatus, rejection: Rejected, now: datetime
) -> OrderEvent:
    return OrderEvent(
        command.order_id, command.account_id, status, now, rejection.reason, rejection.detail
    )


def _check_well_formed(order: Order, instrument: Instrument | None) -> None:
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


def _check_buying_power(
    account: Account,
    order: Order,
    market: Market,
    price: Decimal,
    fee: Decimal | None,
    fee_bps: Decimal,
    growth: Decimal,
) -> None:
    """The order as if accepted (filled now when it has a taker ``fee``, with a bracket's exits
    resting after it; else resting), then the account-wide model on the result."""
    marks = marks_of(account, market)
    equity = ledger.equity(account, marks)
    largest = account.limits.max_order_pct / HUNDRED * equity
    if growth * price > largest:
        raise Rejected(
            Reason.RISK_LIMIT,
            f"notional {growth * price} that the order adds exceeds "
            f"{account.limits.max_order_pct}% of equity {equity}",
        )
    after = copy_account(account)
    if fee is not None:
        ledger.apply_trade(
            after, position_key(order.symbol, order.outcome), order.side, order.quantity, price, fee
        )
        instrument = market.instrument(order.symbol)
        assert instrument is not None
        for exit_order in _exits(order):
            after.resting[exit_order.order_id] = RestingOrder(
                exit_order, _exit_fee_bps(exit_order, instrument)
            )
    else:
        after.resting[order.order_id] = RestingOrder(order, fee_bps)
    committed = buying_power.commitment(after, marks_of(after, market))
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


def copy_account(account: Account) -> Account:
    return replace(
        account,
        positions={key: replace(position) for key, position in account.positions.items()},
        resting=dict(account.resting),
    )


def _fill(
    account: Account,
    market: Market,
    order: Order,
    price: Decimal,
    fee: Decimal,
    liquidity: Liquidity,
    now: datetime,
    *,
    liquidation: bool = False,
) -> list[Event]:
    key = position_key(order.symbol, order.outcome)
    realized = ledger.apply_trade(account, key, order.side, order.quantity, price, fee)
    account.fills += 1
    position = account.positions.get(key)
    fill = Fill(
        fill_id=f"{account.account_id}#{account.fills}",
        order_id=order.order_id,
        account_id=account.account_id,
        symbol=order.symbol,
        side=order.side,
        outcome=order.outcome,
        quantity=order.quantity,
        price=price,
        fee=fee,
        liquidity=liquidity,
        liquidation=liquidation,
        ts=now,
        position_quantity=position.quantity if position else ZERO,
        position_avg_price=position.avg_price if position else ZERO,
        cash_after=account.cash,
        equity_after=_money(ledger.equity(account, marks_of(account, market))),
        realized_pnl=realized,
    )
    filled = OrderEvent(order.order_id, account.account_id, OrderStatus.FILLED, now)
    events: list[Event] = [fill, filled]
    if order.oco_with is not None and order.oco_with in account.resting:
        del account.resting[order.oco_with]
        events.append(OrderEvent(order.oco_with, account.account_id, OrderStatus.CANCELLED, now,
                                 detail=f"oco: {order.order_id} filled"))  # fmt: skip
    events += _fit_reduce_only(account, market, key, now)
    if order.take_profit_price is not None or order.stop_loss_price is not None:
        events += _bracket(account, market, order, now)
    return events


def _exits(entry: Order) -> list[Order]:
    """A bracket entry's exits, stop-loss first."""
    side = Side.SELL if entry.side is Side.BUY else Side.BUY
    stop_id, profit_id = f"~sl-{entry.order_id}", f"~tp-{entry.order_id}"
    both = entry.take_profit_price is not None and entry.stop_loss_price is not None
    exits = []
    if entry.stop_loss_price is not None:
        exits.append(Order(stop_id, entry.account_id, entry.symbol, side, OrderType.STOP_MARKET,
                           entry.quantity, entry.outcome, trigger_price=entry.stop_loss_price,
                           reduce_only=True, oco_with=profit_id if both else None))  # fmt: skip
    if entry.take_profit_price is not None:
        exits.append(Order(profit_id, entry.account_id, entry.symbol, side, OrderType.LIMIT,
                           entry.quantity, entry.outcome, limit_price=entry.take_profit_price,
                           reduce_only=True, oco_with=stop_id if both else None))  # fmt: skip
    return exits


def _exit_fee_bps(exit_order: Order, instrument: Instrument) -> Decimal:
    waits = triggers.waits(exit_order)
    return instrument.taker_fee_bps if waits else instrument.maker_fee_bps


def _bracket(account: Account, market: Market, entry: Order, now: datetime) -> list[Event]:
    """The filled entry's exits: a stop-loss first (protection before profit), then a
    take-profit, reduce-only and linked one-cancels-other. Each is placed as a new order would
    be, so one that cannot (a stop already reached on a gap) is rejected on its own."""
    instrument = market.instrument(entry.symbol)
    assert instrument is not None  # the entry just filled on it
    events: list[Event] = []
    for exit_order in _exits(entry):
        detail = f"bracket of {entry.order_id}"
        try:
            placed = _place(account, exit_order, instrument, market, now)
        except Rejected as rejection:
            events.append(OrderEvent(exit_order.order_id, account.account_id,
                                     OrderStatus.REJECTED, now, rejection.reason,
                                     f"{detail}: {rejection.detail}"))  # fmt: skip
            continue
        events += [OrderEvent(exit_order.order_id, account.account_id, OrderStatus.ACCEPTED,
                              now, detail=detail), *placed]  # fmt: skip
    return events


def _fit_reduce_only(account: Account, market: Market, key: str, now: datetime) -> list[Event]:
    """After a fill changed a position: its resting reduce-only orders, in arrival order, keep
    only what is still left to close (to the lot size), and end when nothing is."""
    position = account.positions.get(key)
    held = position.quantity if position else ZERO
    left = abs(held)
    fitted: dict[str, Decimal] = {}
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        order = resting.order
        if not order.reduce_only or position_key(order.symbol, order.outcome) != key:
            continue
        closes = held != 0 and (held > 0) != (order.side is Side.BUY)
        # One of an OCO pair cancels the other when it fills: they may close the same part.
        shared = fitted.get(order.oco_with, ZERO) if order.oco_with else ZERO
        fits = min(order.quantity, left + shared) if closes else ZERO
        instrument = market.instrument(order.symbol)
        if fits and instrument is not None and instrument.lot_size:
            fits -= fits % instrument.lot_size
        left -= max(fits - shared, ZERO)
        fitted[order_id] = fits
        if fits == order.quantity:
            continue
        if not fits:
            del account.resting[order_id]
            events.append(OrderEvent(order_id, account.account_id, OrderStatus.CANCELLED, now,
                                     detail="reduce_only: nothing left to close"))  # fmt: skip
            continue
        account.resting[order_id] = replace(resting, order=replace(order, quantity=fits))
        events.append(OrderEvent(order_id, account.account_id, OrderStatus.REPLACED, now,
                                 detail=f"reduce_only: quantity {order.quantity} -> {fits}, "
                                 "the position shrank"))  # fmt: skip
    return events


def _money(value: Decimal) -> Decimal:
    """A derived figure (a valuation, a ratio) to the places the wire and the columns carry."""
    return rounded(value)


def fill_resting(account: Account, symbol: str, market: Market, now: datetime) -> list[Event]:
    """Fill the account's resting limits on `symbol` that its last price trades at or through
    (once those whose time has come have expired)."""
    instrument = market.instrument(symbol)
    last = market.last_price(symbol)
    events = expire(account, now)
    if instrument is None or last is None or not pricing.valid_reference(instrument, last):
        return events
    with localcontext(EXACT):
        for order_id in list(account.resting):
            resting = account.resting.get(order_id)  # a fill may have shrunk or ended it
            if resting is None:
                continue
            order = resting.order
            if order.symbol != symbol:
                continue
            reference = pricing.outcome_price(instrument, last, order.outcome)
            if triggers.waits(order):
                events += _trigger(account, resting, instrument, market, reference, now)
                continue
            limit = order.limit_price
            assert limit is not None
            if not pricing.marketable(order.side, reference, limit):
                continue
            del account.resting[order_id]
            _, fee = buying_power.resting_cost(resting)
            events += _fill(account, market, order, limit, fee, Liquidity.MAKER, now)
    return events


def _trigger(
    account: Account,
    resting: RestingOrder,
    instrument: Instrument,
    market: Market,
    reference: Decimal,
    now: datetime,
) -> list[Event]:
    """Trail a trailing stop; when the price reaches the trigger, the order becomes its market
    or limit order and is placed as a new one would be (so a stop that would now exceed buying
    power is cancelled with that reason, rather than filled)."""
    order = triggers.trailed(resting.order, reference, instrument)
    if not triggers.reached(order, reference):
        if order is not resting.order:
            account.resting[order.order_id] = replace(resting, order=order)
        return []
    del account.resting[order.order_id]
    events: list[Event] = [
        OrderEvent(order.order_id, account.account_id, OrderStatus.TRIGGERED, now,
                   detail=f"trigger_price {order.trigger_price} reached at {reference}")
    ]  # fmt: skip
    try:
        return events + _place(account, triggers.triggered(order), instrument, market, now)
    except Rejected as rejection:
        return [*events, OrderEvent(order.order_id, account.account_id, OrderStatus.CANCELLED,
                                    now, rejection.reason, rejection.detail)]  # fmt: skip


def marks_of(account: Account, market: Market) -> dict[str, Decimal]:
    """Each position's mark: the last price, or 1 - last for NO shares."""
    marks = {}
    for key in account.positions:
        symbol, outcome = split_position_key(key)
        instrument = market.instrument(symbol)
        last = market.last_price(symbol)
        assert instrument is not None and last is not None, f"held {key} without market data"
        marks[key] = pricing.outcome_price(instrument, last, outcome)
    return marks


def drawdown_pct(peak: Decimal, equity: Decimal) -> Decimal:
    return (peak - equity) / peak * HUNDRED if peak > 0 else ZERO


def mark(account: Account, market: Market, now: datetime) -> list[Event]:
    """Mark to market: raise the high-water mark, or halt and flatten on a drawdown breach."""
    with localcontext(EXACT):
        return _mark(account, market, now)


def _mark(account: Account, market: Market, now: datetime) -> list[Event]:
    equity = ledger.equity(account, marks_of(account, market))
    account.peak_equity = max(account.peak_equity, equity)
    drawdown = drawdown_pct(account.peak_equity, equity)
    if account.halted or drawdown <= account.limits.max_drawdown_pct:
        return []
    account.halted = True
    events: list[Event] = [
        DrawdownViolation(
            account.account_id,
            account.limits.max_drawdown_pct,
            _money(drawdown),
            _money(equity),
            account.peak_equity,
            now,
        ),
        AccountStatusChanged(account.account_id, "halted", "drawdown_violation", now),
    ]
    for order_id in list(account.resting):
        del account.resting[order_id]
        events.append(
            OrderEvent(
                order_id,
                account.account_id,
                OrderStatus.CANCELLED,
                now,
                Reason.ACCOUNT_HALTED,
                "cancelled by the drawdown halt",
            )
        )
    return events + _liquidate(account, market, now)


def _liquidate(account: Account, market: Market, now: datetime) -> list[Event]:
    events: list[Event] = []
    for key, position in list(account.positions.items()):
        symbol, outcome = split_position_key(key)
        instrument = market.instrument(symbol)
        last = market.last_price(symbol)
        assert instrument is not None and last is not None, f"held {key} without market data"
        side = Side.SELL if position.quantity > 0 else Side.BUY
        reference = pricing.outcome_price(instrument, last, outcome)
        price = pricing.taker_price(instrument, reference, side)
        quantity = abs(position.quantity)
        order = Order(
            order_id=f"{ENGINE_ID_PREFIX}liquidation-{account.fills + 1}",
            account_id=account.account_id,
            symbol=symbol,
            side=side,
            type=OrderType.MARKET,
            quantity=quantity,
            outcome=outcome,
        )
        fee = pricing.trade_fee(quantity, price, side, instrument.taker_fee_bps)
        fill, _ = _fill(account, market, order, price, fee, Liquidity.TAKER, now, liquidation=True)
        events.append(fill)
    return events
