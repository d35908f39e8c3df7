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
    NOTHING_FILLED,
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
    Progress,
    Quote,
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


def _unquoted(symbol: str) -> Quote | None:
    return None


@dataclass(frozen=True)
class Market:
    """What the rules may know of the market, by symbol: instruments, last trade prices, and
    what the latest tick quoted beside its price (`Quote`), if anything."""

    instrument: Callable[[str], Instrument | None]
    last_price: Callable[[str], Decimal | None]
    quote: Callable[[str], Quote | None] = _unquoted


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
            events = _execute(
                account, order, market, order_ids, now, offset, duplicate_window, session
            )
        except Rejected as rejection:
            rejected = _order_event(
                order.order_id,
                order.account_id,
                OrderStatus.REJECTED,
                now,
                NOTHING_FILLED,
                ZERO,
                rejection.reason,
                rejection.detail,
            )
            return [*expired, rejected]
        assert account is not None  # else rejected
        return expired + events + _end_unprotected_entries(account, now)


def _order_event(
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


def _ended(
    account: Account,
    resting: RestingOrder,
    status: OrderStatus,
    now: datetime,
    reason: Reason | None = None,
    detail: str | None = None,
) -> OrderEvent:
    """An open order's end (cancelled, expired): what had filled of it, and nothing left open."""
    return _order_event(resting.order.order_id, account.account_id, status, now,
                        resting.progress, ZERO, reason, detail)  # fmt: skip


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
    accepted = _order_event(order.order_id, account.account_id, OrderStatus.ACCEPTED, now,
                            NOTHING_FILLED, order.quantity)  # fmt: skip
    events = [accepted, *_place(account, order, instrument, market, now)]
    if order.oco_with is not None and order.oco_with in account.resting:
        other = account.resting[order.oco_with]
        linked = replace(other.order, oco_with=order.order_id)
        account.resting[order.oco_with] = replace(other, order=linked)
    return events


def _place(
    account: Account,
    order: Order,
    instrument: Instrument,
    market: Market,
    now: datetime,
    progress: Progress = NOTHING_FILLED,
) -> list[Event]:
    """Take what the order can on arrival and rest the rest (or cancel it: IOC, FOK), after the
    risk checks; what an accepted order, a replaced one and a triggered one go through.
    ``progress`` is what had filled of it before (a replaced order keeps it)."""
    last = market.last_price(order.symbol)
    if last is None or not pricing.valid_reference(instrument, last):
        raise Rejected(Reason.NO_MARKET_DATA, f"no usable tick yet for {order.symbol!r}")
    quoted = pricing.touch(instrument, market.quote(order.symbol), order.side, order.outcome)
    reference = quoted.price if quoted else pricing.outcome_price(instrument, last, order.outcome)
    if triggers.waits(order):
        order = triggers.trailed(order, reference, instrument)
        return _wait(account, order, instrument, market, reference, progress)
    takes, rest = _plan(order, instrument, reference, quoted)
    if order.post_only and takes:
        raise Rejected(
            Reason.POST_ONLY_WOULD_TAKE,
            f"post_only limit {order.limit_price} is marketable at {reference}",
        )
    short = ""
    if order.time_in_force is TimeInForce.FOK and rest and takes:
        short = f"only {order.quantity - rest} of {order.quantity} available"
        takes, rest = [], order.quantity
    fees = [pricing.trade_fee(q, p, order.side, instrument.taker_fee_bps) for q, p in takes]
    # What IOC and FOK would leave is checked as if it rested, as the same order GTC would be.
    _check_risk(account, order, instrument, market, _Plan(takes, fees, rest,
                instrument.maker_fee_bps), progress)  # fmt: skip
    events: list[Event] = []
    leaves = order.quantity
    for (quantity, price), fee in zip(takes, fees, strict=True):
        leaves -= quantity
        progress = progress.add(quantity, price)
        events += _fill(account, market, order, quantity, price, fee, Liquidity.TAKER, now,
                        progress, leaves)  # fmt: skip
    if leaves and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        what = f"{leaves} not filled" if takes else short or "not marketable"
        detail = f"{order.time_in_force.value}: {what} on arrival"
        events.append(_order_event(order.order_id, account.account_id, OrderStatus.CANCELLED,
                                   now, progress, ZERO, detail=detail))  # fmt: skip
    elif leaves:
        account.resting[order.order_id] = RestingOrder(
            replace(order, quantity=leaves), instrument.maker_fee_bps, progress
        )
    return events + _mark(account, market, now) if takes else events


def _plan(
    order: Order, instrument: Instrument, reference: Decimal, quoted: pricing.Touch | None
) -> tuple[list[tuple[Decimal, Decimal]], Decimal]:
    """What an arriving order takes, as (quantity, price) parts, and the quantity left to rest.

    Against a quote with a size, what is quoted fills at the quoted price; beyond it a market
    order fills at that price moved by the slippage, and a limit rests the rest at its limit.
    Without a size (or a quote), all of it fills at the reference moved by the slippage (never
    past a limit), as in the last-price model."""
    limit = order.limit_price
    if limit is not None and not pricing.marketable(order.side, reference, limit):
        return [], order.quantity
    if limit is None:
        slipped = pricing.taker_price(instrument, reference, order.side)
    else:
        slipped = pricing.limit_taker_price(instrument, reference, order.side, limit)
    if quoted is None or quoted.size is None:
        return [(order.quantity, slipped)], ZERO
    at_touch = _in_lots(min(order.quantity, quoted.size), instrument)
    takes = [(at_touch, quoted.price)] if at_touch else []
    beyond = order.quantity - at_touch
    if beyond and limit is None:
        if takes and slipped == quoted.price:
            return [(order.quantity, slipped)], ZERO
        return [*takes, (beyond, slipped)], ZERO
    return takes, beyond


def _in_lots(quantity: Decimal, instrument: Instrument) -> Decimal:
    lot = instrument.lot_size
    return quantity - quantity % lot if lot else quantity


@dataclass(frozen=True)
class _Plan:
    """An order as placing it would leave it: the parts that fill now (with their fees), and
    the quantity that rests, at ``rest_fee_bps``."""

    takes: list[tuple[Decimal, Decimal]]
    fees: list[Decimal]
    rest: Decimal
    rest_fee_bps: Decimal


def _wait(
    account: Account,
    order: Order,
    instrument: Instrument,
    market: Market,
    reference: Decimal,
    progress: Progress,
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
    _check_risk(account, order, instrument, market, _Plan([], [], order.quantity, fee_bps),
                progress)  # fmt: skip
    account.resting[order.order_id] = RestingOrder(order, fee_bps, progress)
    return []


def _check_risk(
    account: Account,
    order: Order,
    instrument: Instrument,
    market: Market,
    plan: _Plan,
    progress: Progress,
) -> None:
    """What every placed order passes, filling now or resting: shares on offer, reduce-only,
    and buying power for the part that grows its position."""
    if instrument.kind is Kind.PREDICTION and order.side is Side.SELL:
        _check_position_on_offer(account, order)
    growth = buying_power.growth(account, order)
    if growth and order.reduce_only:
        raise Rejected(
            Reason.REDUCE_ONLY_WOULD_INCREASE,
            f"reduce_only order would grow the position by {growth}",
        )
    if growth:
        _check_buying_power(account, order, market, plan, progress, growth)


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
        resting = account.resting.pop(command.order_id)
        cancelled = _ended(account, resting, OrderStatus.CANCELLED, now,
                           detail="cancelled by the trader")  # fmt: skip
        return [*expired, cancelled, *_end_unprotected_entries(account, now)]


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
            old, progress = resting.order, resting.progress
            quantity = old.quantity
            if command.quantity is not None:
                # The new quantity is the order's whole, as at a venue: what filled stays filled.
                quantity = command.quantity - progress.filled
                if quantity <= 0:
                    raise Rejected(
                        Reason.INVALID_ORDER,
                        f"quantity {command.quantity} is not above the {progress.filled} "
                        "already filled",
                    )
            new = replace(
                old,
                quantity=quantity,
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
            placed = _place(trial, new, instrument, market, now, progress)
        except Rejected as rejection:
            return [*expired, _refused(command, OrderStatus.REPLACE_REJECTED, rejection, now)]
        for name in ("cash", "peak_equity", "halted", "fills", "positions", "resting"):
            setattr(account, name, getattr(trial, name))
        changes = [
            f"{name} {before} -> {after}"
            for name, before, after in (
                ("quantity", old.quantity + progress.filled, new.quantity + progress.filled),
                ("limit_price", old.limit_price, new.limit_price),
                ("trigger_price", old.trigger_price, new.trigger_price),
            )
            if before != after
        ]
        detail = ", ".join(changes) or "unchanged"
        replaced = _order_event(new.order_id, account.account_id, OrderStatus.REPLACED, now,
                                progress, new.quantity, detail=detail)  # fmt: skip
        return [*expired, replaced, *placed, *_end_unprotected_entries(account, now)]


def expire(account: Account, now: datetime) -> list[Event]:
    """End the account's GTD and DAY orders whose time has come: checked at every input that
    reaches the account (its orders and commands, and ticks of what it holds or rests on), at
    that input's time."""
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        expire_at = resting.order.expire_at
        if expire_at is not None and expire_at <= now:
            del account.resting[order_id]
            events.append(_ended(account, resting, OrderStatus.EXPIRED, now,
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
    if order_ids.get(order_id) is None and not _had_exits(account, order_id, order_ids):
        raise Rejected(Reason.UNKNOWN_ORDER, f"no order {order_id!r} on this account")
    raise Rejected(Reason.ORDER_CLOSED, f"order {order_id!r} is no longer open")


def _had_exits(account: Account, order_id: str, order_ids: OrderIds) -> bool:
    """Whether ``order_id`` is a bracket exit's id whose entry has filled (so it was placed):
    the engine's ids are not among the account's used order ids."""
    for exit_of in ("sl-", "tp-"):
        prefix = ENGINE_ID_PREFIX + exit_of
        if order_id.startswith(prefix):
            entry_id = order_id.removeprefix(prefix)
            entry = account.resting.get(entry_id)
            return order_ids.get(entry_id) is not None and (
                entry is None or bool(entry.progress.filled)
            )
    return False


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
    plan: _Plan,
    progress: Progress,
    growth: Decimal,
) -> None:
    """The order as if placed (its parts filled now, with a bracket's exits resting after them,
    and the rest resting), then the account-wide model on the result."""
    marks = marks_of(account, market)
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
    after = copy_account(account)
    key = position_key(order.symbol, order.outcome)
    filled = progress.filled
    for (quantity, price), fee in zip(plan.takes, plan.fees, strict=True):
        ledger.apply_trade(after, key, order.side, quantity, price, fee)
        filled += quantity
    if plan.takes:
        instrument = market.instrument(order.symbol)
        assert instrument is not None
        for exit_order in _exits(order, filled):
            after.resting[exit_order.order_id] = RestingOrder(
                exit_order, _exit_fee_bps(exit_order, instrument)
            )
    if plan.rest:
        rest = replace(order, quantity=plan.rest)
        after.resting[order.order_id] = RestingOrder(rest, plan.rest_fee_bps)
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
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    liquidity: Liquidity,
    now: datetime,
    progress: Progress,
    leaves: Decimal,
    *,
    liquidation: bool = False,
) -> list[Event]:
    """Book one fill of ``order`` (``progress`` and ``leaves``: the order after it), then what
    follows from it: its OCO partner, the position's reduce-only orders, a bracket's exits."""
    key = position_key(order.symbol, order.outcome)
    realized = ledger.apply_trade(account, key, order.side, quantity, price, fee)
    account.fills += 1
    position = account.positions.get(key)
    fill = Fill(
        fill_id=f"{account.account_id}#{account.fills}",
        order_id=order.order_id,
        account_id=account.account_id,
        symbol=order.symbol,
        side=order.side,
        outcome=order.outcome,
        quantity=quantity,
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
    status = OrderStatus.PARTIALLY_FILLED if leaves else OrderStatus.FILLED
    events: list[Event] = [
        fill,
        _order_event(order.order_id, account.account_id, status, now, progress, leaves),
    ]
    events += _one_cancels_other(account, order, quantity, leaves, now)
    events += _fit_reduce_only(account, market, key, now)
    if order.take_profit_price is not None or order.stop_loss_price is not None:
        events += _bracket(account, market, order, quantity, progress.filled, now)
    return events


def _one_cancels_other(
    account: Account, order: Order, quantity: Decimal, leaves: Decimal, now: datetime
) -> list[Event]:
    """A fill of one of an OCO pair ends the other, but a partial fill of one of a reduce-only
    pair (a bracket's exits) only shrinks the other by as much: both close the same position,
    and what is left of it stays protected."""
    other = account.resting.get(order.oco_with) if order.oco_with else None
    if other is None:
        return []
    other_id = other.order.order_id
    remaining = other.order.quantity - quantity
    if leaves and order.reduce_only and other.order.reduce_only and remaining > 0:
        account.resting[other_id] = replace(other, order=replace(other.order, quantity=remaining))
        detail = f"oco: open quantity {other.order.quantity} -> {remaining}, " \
            f"{order.order_id} partially filled"  # fmt: skip
        return [_order_event(other_id, account.account_id, OrderStatus.REPLACED, now,
                             other.progress, remaining, detail=detail)]  # fmt: skip
    del account.resting[other_id]
    filled = "partially filled" if leaves else "filled"
    return [_ended(account, other, OrderStatus.CANCELLED, now,
                   detail=f"oco: {order.order_id} {filled}")]  # fmt: skip


def _exits(entry: Order, quantity: Decimal) -> list[Order]:
    """A bracket entry's exits for ``quantity`` of it, stop-loss first."""
    side = Side.SELL if entry.side is Side.BUY else Side.BUY
    stop_id, profit_id = _exit_ids(entry.order_id)
    both = entry.take_profit_price is not None and entry.stop_loss_price is not None
    exits = []
    if entry.stop_loss_price is not None:
        exits.append(Order(stop_id, entry.account_id, entry.symbol, side, OrderType.STOP_MARKET,
                           quantity, entry.outcome, trigger_price=entry.stop_loss_price,
                           reduce_only=True, oco_with=profit_id if both else None))  # fmt: skip
    if entry.take_profit_price is not None:
        exits.append(Order(profit_id, entry.account_id, entry.symbol, side, OrderType.LIMIT,
                           quantity, entry.outcome, limit_price=entry.take_profit_price,
                           reduce_only=True, oco_with=stop_id if both else None))  # fmt: skip
    return exits


def _exit_ids(entry_id: str) -> tuple[str, str]:
    return f"{ENGINE_ID_PREFIX}sl-{entry_id}", f"{ENGINE_ID_PREFIX}tp-{entry_id}"


def _exit_fee_bps(exit_order: Order, instrument: Instrument) -> Decimal:
    waits = triggers.waits(exit_order)
    return instrument.taker_fee_bps if waits else instrument.maker_fee_bps


def _bracket(
    account: Account,
    market: Market,
    entry: Order,
    quantity: Decimal,
    filled: Decimal,
    now: datetime,
) -> list[Event]:
    """A bracket entry filled ``quantity`` (``filled`` in all). Its first fill places the exits
    for it: a stop-loss first (protection before profit), then a take-profit, reduce-only and
    linked one-cancels-other, each placed as a new order would be (so one that cannot, a stop
    already reached on a gap, is rejected on its own). Each later fill grows the exits still
    open by as much."""
    instrument = market.instrument(entry.symbol)
    assert instrument is not None  # the entry just filled on it
    detail = f"bracket of {entry.order_id}"
    events: list[Event] = []
    if filled != quantity:
        for exit_id in _exit_ids(entry.order_id):
            resting = account.resting.get(exit_id)
            if resting is None:
                continue
            grown = resting.order.quantity + quantity
            account.resting[exit_id] = replace(
                resting, order=replace(resting.order, quantity=grown)
            )
            events.append(_order_event(exit_id, account.account_id, OrderStatus.REPLACED, now,
                                       resting.progress, grown,
                                       detail=f"{detail}: open quantity {resting.order.quantity}"
                                       f" -> {grown}, the entry has filled {filled}"))  # fmt: skip
        key = position_key(entry.symbol, entry.outcome)
        return events + _fit_reduce_only(account, market, key, now)
    for exit_order in _exits(entry, quantity):
        try:
            placed = _place(account, exit_order, instrument, market, now)
        except Rejected as rejection:
            why = f"{detail}: {rejection.detail}"
            events.append(_order_event(exit_order.order_id, account.account_id,
                                       OrderStatus.REJECTED, now, NOTHING_FILLED, ZERO,
                                       rejection.reason, why))  # fmt: skip
            continue
        events += [_order_event(exit_order.order_id, account.account_id, OrderStatus.ACCEPTED,
                                now, NOTHING_FILLED, exit_order.quantity, detail=detail),
                   *placed]  # fmt: skip
    return events


def _end_unprotected_entries(account: Account, now: datetime) -> list[Event]:
    """A bracket entry that has filled in part, and whose exits have all ended (one filled, or
    was cancelled or refused), is cancelled: the rest would fill unprotected, and a bracket is
    one round trip."""
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        order = resting.order
        if (
            (order.take_profit_price is not None or order.stop_loss_price is not None)
            and resting.progress.filled
            and not any(exit_id in account.resting for exit_id in _exit_ids(order_id))
        ):
            del account.resting[order_id]
            events.append(_ended(account, resting, OrderStatus.CANCELLED, now,
                                 detail="bracket: no exit open for the rest"))  # fmt: skip
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
        if fits and instrument is not None:
            fits = _in_lots(fits, instrument)
        left -= max(fits - shared, ZERO)
        fitted[order_id] = fits
        if fits == order.quantity:
            continue
        if not fits:
            del account.resting[order_id]
            events.append(_ended(account, resting, OrderStatus.CANCELLED, now,
                                 detail="reduce_only: nothing left to close"))  # fmt: skip
            continue
        account.resting[order_id] = replace(resting, order=replace(order, quantity=fits))
        events.append(_order_event(order_id, account.account_id, OrderStatus.REPLACED, now,
                                   resting.progress, fits,
                                   detail=f"reduce_only: open quantity {order.quantity} -> "
                                   f"{fits}, the position shrank"))  # fmt: skip
    return events


def _money(value: Decimal) -> Decimal:
    """A derived figure (a valuation, a ratio) to the places the wire and the columns carry."""
    return rounded(value)


def fill_resting(account: Account, symbol: str, market: Market, now: datetime) -> list[Event]:
    """What a tick of ``symbol`` does to the account's open orders on it (once those whose time
    has come have expired): stops and if-touched orders trail and trigger, in arrival order;
    then resting limits fill, best price first (`_Through`)."""
    instrument = market.instrument(symbol)
    last = market.last_price(symbol)
    events = expire(account, now)
    if instrument is None or last is None or not pricing.valid_reference(instrument, last):
        return events
    quote = market.quote(symbol)
    with localcontext(EXACT):
        on_symbol = [i for i, resting in account.resting.items() if resting.order.symbol == symbol]
        for order_id in on_symbol:
            resting = account.resting.get(order_id)  # a fill may have shrunk or ended it
            if resting is None or not triggers.waits(resting.order):
                continue
            order = resting.order
            reference = pricing.side_reference(instrument, last, quote, order.side, order.outcome)
            events += _trigger(account, resting, instrument, market, reference, now)
        through = _Through(instrument, last, quote)
        limits = [
            (index, order_id)
            for index, order_id in enumerate(on_symbol)
            if order_id in account.resting and not triggers.waits(account.resting[order_id].order)
        ]
        for _, order_id in sorted(limits, key=lambda item: (through.priority(
                account.resting[item[1]].order), item[0])):  # fmt: skip
            resting = account.resting.get(order_id)
            if resting is None:
                continue
            order = resting.order
            quantity = through.take(order)
            if not quantity:
                continue
            limit = order.limit_price
            assert limit is not None
            leaves = order.quantity - quantity
            progress = resting.progress.add(quantity, limit)
            if leaves:
                account.resting[order_id] = RestingOrder(
                    replace(order, quantity=leaves), resting.fee_bps, progress
                )
            else:
                del account.resting[order_id]
            fee = pricing.trade_fee(quantity, limit, order.side, resting.fee_bps)
            events += _fill(account, market, order, quantity, limit, fee, Liquidity.MAKER, now,
                            progress, leaves)  # fmt: skip
        return events + _end_unprotected_entries(account, now)


class _Through:
    """What one tick trades or quotes through an account's resting limits.

    A limit fills when the last trade or the quote on the other side (the ask, for a buy) is
    at or through it, as much as the larger of the sizes that did so: the trade's ``size`` and
    the size quoted. A size not given is unlimited. On each side of the book the account's
    limits share it, best price first: what one took, the next cannot."""

    def __init__(self, instrument: Instrument, last: Decimal, quote: Quote | None) -> None:
        self._instrument = instrument
        self._last = last
        self._quote = quote
        self._taken: dict[bool, Decimal] = {}

    def priority(self, order: Order) -> Decimal:
        limit = order.limit_price
        assert limit is not None
        return -limit if order.side is Side.BUY else limit

    def take(self, order: Order) -> Decimal:
        """How much of ``order`` fills on this tick."""
        limit = order.limit_price
        assert limit is not None
        side, outcome = order.side, order.outcome
        sizes: list[Decimal | None] = []
        traded = pricing.outcome_price(self._instrument, self._last, outcome)
        if pricing.marketable(side, traded, limit):
            sizes.append(self._quote.size if self._quote else None)
        quoted = pricing.touch(self._instrument, self._quote, side, outcome)
        if quoted is not None and pricing.marketable(side, quoted.price, limit):
            sizes.append(quoted.size)
        if not sizes:
            return ZERO
        book = pricing.takes_ask(self._instrument, side, outcome)
        taken = self._taken.get(book, ZERO)
        known = [size for size in sizes if size is not None]
        available = None if len(known) < len(sizes) else max(known) - taken
        quantity = order.quantity if available is None else min(order.quantity, available)
        quantity = _in_lots(max(quantity, ZERO), self._instrument)
        self._taken[book] = taken + quantity
        return quantity


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
        _order_event(order.order_id, account.account_id, OrderStatus.TRIGGERED, now,
                     resting.progress, order.quantity,
                     detail=f"trigger_price {order.trigger_price} reached at {reference}")
    ]  # fmt: skip
    try:
        triggered = triggers.triggered(order)
        return events + _place(account, triggered, instrument, market, now, resting.progress)
    except Rejected as rejection:
        return [*events, _ended(account, resting, OrderStatus.CANCELLED, now, rejection.reason,
                                rejection.detail)]  # fmt: skip


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
    for order_id, resting in list(account.resting.items()):
        del account.resting[order_id]
        events.append(_ended(account, resting, OrderStatus.CANCELLED, now,
                             Reason.ACCOUNT_HALTED, "cancelled by the drawdown halt"))  # fmt: skip
    return events + _liquidate(account, market, now)


def _liquidate(account: Account, market: Market, now: datetime) -> list[Event]:
    """Close every position at once, each taking the quote (or the last price) moved by the
    slippage, whatever its size."""
    events: list[Event] = []
    for key, position in list(account.positions.items()):
        symbol, outcome = split_position_key(key)
        instrument = market.instrument(symbol)
        last = market.last_price(symbol)
        assert instrument is not None and last is not None, f"held {key} without market data"
        side = Side.SELL if position.quantity > 0 else Side.BUY
        reference = pricing.side_reference(instrument, last, market.quote(symbol), side, outcome)
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
        done = NOTHING_FILLED.add(quantity, price)
        fill, _ = _fill(account, market, order, quantity, price, fee, Liquidity.TAKER, now, done,
                        ZERO, liquidation=True)  # fmt: skip
        events.append(fill)
    return events
