"""Placing and filling orders: a new order after its checks, resting orders on each tick,
expiry, marks and the drawdown halt.

Every function takes the account's state and what the market looks like, mutates the state and
returns the events to publish. Same inputs, same events. Fill ids number the account's fills
(``<account_id>#<n>``), so they never repeat, and a consumer can see a gap.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from fillstream.core import evaluation, ledger, pricing, triggers
from fillstream.core.checks import Plan, Rejected, check_risk, check_well_formed
from fillstream.core.contingent import (
    end_unprotected_entries,
    exits,
    fit_reduce_only,
    grow_exits,
    one_cancels_other,
)
from fillstream.core.events import (
    AccountStatusChanged,
    DrawdownViolation,
    EvaluationDecided,
    Event,
    Fill,
    OrderStatus,
    ended,
    order_event,
)
from fillstream.core.matching import Through, plan
from fillstream.core.model import (
    ENGINE_ID_PREFIX,
    EXACT,
    HUNDRED,
    NOTHING_FILLED,
    ZERO,
    Account,
    AccountLimits,
    Instrument,
    Liquidity,
    Market,
    Order,
    OrderIds,
    OrderType,
    Outcome,
    Progress,
    Reason,
    Resolution,
    RestingOrder,
    SeenOrder,
    Session,
    Side,
    TimeInForce,
    TradingState,
    position_key,
    rounded,
    split_position_key,
)

UTC_DAYS = Session()


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
        if account is not None and account.evaluation is not None:
            # An account in a program is marked first: a program day that has ended rolls (and
            # lifts a daily lock) before the order is judged. Others skip the cost.
            expired += _mark(account, market, now)
        try:
            events = _execute(
                account, order, market, order_ids, now, offset, duplicate_window, session
            )
        except Rejected as rejection:
            rejected = order_event(
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
        return expired + events + end_unprotected_entries(account, now)


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
    check_well_formed(order, instrument)
    if order.time_in_force is TimeInForce.GTD:
        assert order.expire_at is not None  # checked as well formed
        if order.expire_at <= now:
            raise Rejected(Reason.INVALID_ORDER, f"expire_at {order.expire_at} is not after {now}")
    elif order.time_in_force is TimeInForce.DAY:
        order = replace(order, expire_at=session.end_of_day(now))
    if account is None:
        raise Rejected(Reason.UNKNOWN_ACCOUNT, f"no account {order.account_id!r}")
    refuse_when_stopped(account, market)
    if (limited := evaluation.check_activity(account, market, now)) is not None:
        raise Rejected(*limited)
    seen = order_ids.get(order.order_id)
    # The same message applied again after a crash lost its state is not a duplicate of itself.
    if seen is not None and seen.offset != offset and seen.ts >= now - duplicate_window:
        raise Rejected(Reason.DUPLICATE_ORDER_ID, f"order_id {order.order_id!r} already used")
    order_ids.add(order.order_id, SeenOrder(now, offset))
    if instrument is None:
        raise Rejected(Reason.UNKNOWN_SYMBOL, f"no instrument {order.symbol!r}")
    if (resolution := market.resolution(order.symbol)) is not None:
        detail = f"{order.symbol} resolved {resolution.result.value}: it takes no orders"
        raise Rejected(Reason.MARKET_RESOLVED, detail)
    if order.oco_with is not None:
        other = account.resting.get(order.oco_with)
        if other is None or other.order.oco_with is not None:
            detail = f"oco_with {order.oco_with!r} is not an open order without a link"
            raise Rejected(Reason.INVALID_ORDER, detail)
    accepted = order_event(order.order_id, account.account_id, OrderStatus.ACCEPTED, now,
                            NOTHING_FILLED, order.quantity)  # fmt: skip
    events = [accepted, *place(account, order, instrument, market, now)]
    if order.oco_with is not None and order.oco_with in account.resting:
        other = account.resting[order.oco_with]
        linked = replace(other.order, oco_with=order.order_id)
        account.resting[order.oco_with] = replace(other, order=linked)
    return events


def place(
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
    takes, rest = plan(order, instrument, reference, quoted)
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
    check_risk(account, order, instrument, market, Plan(takes, fees, rest,
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
        events.append(order_event(order.order_id, account.account_id, OrderStatus.CANCELLED,
                                   now, progress, ZERO, detail=detail))  # fmt: skip
    elif leaves:
        account.resting[order.order_id] = RestingOrder(
            replace(order, quantity=leaves), instrument.maker_fee_bps, progress
        )
    if takes:
        events += _mark(account, market, now)
    return events


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
    check_risk(account, order, instrument, market, Plan([], [], order.quantity, fee_bps),
                progress)  # fmt: skip
    account.resting[order.order_id] = RestingOrder(order, fee_bps, progress)
    return []


def expire(account: Account, now: datetime) -> list[Event]:
    """End the account's GTD and DAY orders whose time has come: checked at every input that
    reaches the account (its orders and commands, and ticks of what it holds or rests on), at
    that input's time."""
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        expire_at = resting.order.expire_at
        if expire_at is not None and expire_at <= now:
            del account.resting[order_id]
            events.append(ended(account, resting, OrderStatus.EXPIRED, now,
                                 detail=f"expired at {expire_at.isoformat()}"))  # fmt: skip
    return events


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
    if not liquidation and liquidity is not Liquidity.SETTLEMENT:
        evaluation.trade(account, market, now)
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
        equity_after=_money(ledger.equity(account, pricing.marks_of(account, market))),
        realized_pnl=realized,
    )
    status = OrderStatus.PARTIALLY_FILLED if leaves else OrderStatus.FILLED
    events: list[Event] = [
        fill,
        order_event(order.order_id, account.account_id, status, now, progress, leaves),
    ]
    events += one_cancels_other(account, order, quantity, leaves, now)
    events += fit_reduce_only(account, market, key, now)
    if order.take_profit_price is not None or order.stop_loss_price is not None:
        events += _bracket(account, market, order, quantity, progress.filled, now)
    return events


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
    already reached on a gap, is rejected on its own). Later fills grow them (`grow_exits`)."""
    if filled != quantity:
        return grow_exits(account, market, entry, quantity, filled, now)
    instrument = market.instrument(entry.symbol)
    assert instrument is not None  # the entry just filled on it
    detail = f"bracket of {entry.order_id}"
    events: list[Event] = []
    for exit_order in exits(entry, quantity):
        try:
            placed = place(account, exit_order, instrument, market, now)
        except Rejected as rejection:
            why = f"{detail}: {rejection.detail}"
            events.append(order_event(exit_order.order_id, account.account_id,
                                      OrderStatus.REJECTED, now, NOTHING_FILLED, ZERO,
                                      rejection.reason, why))  # fmt: skip
            continue
        events += [order_event(exit_order.order_id, account.account_id, OrderStatus.ACCEPTED,
                               now, NOTHING_FILLED, exit_order.quantity, detail=detail),
                   *placed]  # fmt: skip
    return events


def _money(value: Decimal) -> Decimal:
    """A derived figure (a valuation, a ratio) to the places the wire and the columns carry."""
    return rounded(value)


def fill_resting(account: Account, symbol: str, market: Market, now: datetime) -> list[Event]:
    """What a tick of ``symbol`` does to the account's open orders on it (once those whose time
    has come have expired): stops and if-touched orders trail and trigger, in arrival order;
    then resting limits fill, best price first (`Through`)."""
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
        through = Through(instrument, last, quote)
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
        return events + end_unprotected_entries(account, now)


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
        order_event(order.order_id, account.account_id, OrderStatus.TRIGGERED, now,
                     resting.progress, order.quantity,
                     detail=f"trigger_price {order.trigger_price} reached at {reference}")
    ]  # fmt: skip
    try:
        triggered = triggers.triggered(order)
        return events + place(account, triggered, instrument, market, now, resting.progress)
    except Rejected as rejection:
        return [*events, ended(account, resting, OrderStatus.CANCELLED, now, rejection.reason,
                                rejection.detail)]  # fmt: skip


def on_tick(account: Account, symbol: str, market: Market, now: datetime) -> list[Event]:
    """What a tick of ``symbol`` does to an account holding or resting on it: its orders on the
    symbol fill, trigger or expire, then it is marked. `levels.LevelIndex` says which accounts
    a tick can change; the others it would leave exactly as they are."""
    events: list[Event] = []
    if any(resting.order.symbol == symbol for resting in account.resting.values()):
        events = fill_resting(account, symbol, market, now)
    return events + mark(account, market, now)


def drawdown_pct(peak: Decimal, equity: Decimal) -> Decimal:
    return (peak - equity) / peak * HUNDRED if peak > 0 else ZERO


def mark(account: Account, market: Market, now: datetime) -> list[Event]:
    """Mark to market: raise the high-water mark, or halt and flatten on a drawdown breach."""
    with localcontext(EXACT):
        return _mark(account, market, now)


def _mark(account: Account, market: Market, now: datetime) -> list[Event]:
    equity = ledger.equity(account, pricing.marks_of(account, market))
    account.peak_equity = max(account.peak_equity, equity)
    drawdown = drawdown_pct(account.peak_equity, equity)
    if account.failed or account.state is TradingState.CLOSED:
        return []
    if drawdown <= account.limits.max_drawdown_pct:
        return _judge(account, market, equity, now)
    account.state, account.failed = TradingState.HALTED, True
    events: list[Event] = [
        *evaluation.failed_by_drawdown(account, drawdown, now),
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
        events.append(ended(account, resting, OrderStatus.CANCELLED, now,
                             Reason.ACCOUNT_HALTED, "cancelled by the drawdown halt"))  # fmt: skip
    return events + liquidate(account, market, now)


def _judge(account: Account, market: Market, equity: Decimal, now: datetime) -> list[Event]:
    """The evaluation program's verdict at a mark, and what it ends: a pass closes the account
    with its orders; a failure or a daily lock also closes every position."""
    events = evaluation.judge(account, market, equity, now)
    decided = [
        e for e in events
        if isinstance(e, EvaluationDecided) and e.outcome in ("passed", "failed", "locked")
    ]  # fmt: skip
    if not decided:
        return events
    (verdict,) = decided
    passed = verdict.outcome == "passed"
    reason = Reason.ACCOUNT_CLOSED if passed else Reason.ACCOUNT_HALTED
    detail = f"cancelled: the evaluation {verdict.outcome} ({verdict.rule})"
    for order_id, resting in list(account.resting.items()):
        del account.resting[order_id]
        events.append(ended(account, resting, OrderStatus.CANCELLED, now, reason, detail))
    return events if passed else events + liquidate(account, market, now)


def settle(account: Account, resolution: Resolution, market: Market, now: datetime) -> list[Event]:
    """A prediction market has resolved: the account's resting orders on it are cancelled, and
    each of its positions in it is sold at its payout (1 or 0, a split's price, or for a void
    market its average cost), without a fee, in a settlement fill (order id
    ``~settlement-<symbol>``); then the account is marked, as the payout moves its equity."""
    symbol = resolution.symbol
    detail = f"{symbol} resolved {resolution.result.value}"
    with localcontext(EXACT):
        events: list[Event] = []
        for order_id, resting in list(account.resting.items()):
            if resting.order.symbol == symbol:
                del account.resting[order_id]
                events.append(ended(account, resting, OrderStatus.CANCELLED, now,
                                    Reason.MARKET_RESOLVED, detail))  # fmt: skip
        for outcome in Outcome:
            position = account.positions.get(position_key(symbol, outcome))
            if position is None:
                continue
            assert position.quantity > 0, "prediction shares are only ever held"
            payout = resolution.payout(outcome)
            price = position.avg_price if payout is None else payout
            order = Order(f"{ENGINE_ID_PREFIX}settlement-{symbol}", account.account_id, symbol,
                          Side.SELL, OrderType.MARKET, position.quantity, outcome)  # fmt: skip
            done = NOTHING_FILLED.add(position.quantity, price)
            fill, _ = _fill(account, market, order, position.quantity, price, ZERO,
                            Liquidity.SETTLEMENT, now, done, ZERO)  # fmt: skip
            events.append(fill)
        return events + _mark(account, market, now)


def refuse_when_stopped(account: Account, market: Market) -> None:
    """A halted or closed account, or any account while the firm is halted, places no order and
    changes none."""
    if account.state is TradingState.HALTED:
        why = "after a drawdown violation" if account.failed else "by the operator"
        raise Rejected(Reason.ACCOUNT_HALTED, f"account halted {why}")
    if account.state is TradingState.CLOSED:
        raise Rejected(Reason.ACCOUNT_CLOSED, "account closed")
    if market.trading is TradingState.HALTED:
        raise Rejected(Reason.ACCOUNT_HALTED, "trading halted firm-wide by the operator")


def liquidate(account: Account, market: Market, now: datetime) -> list[Event]:
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
