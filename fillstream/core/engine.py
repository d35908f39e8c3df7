"""The execution-and-risk rules: pre-trade checks, fills, resting limits, marks and drawdown halts.

Every function takes the account's state and what the market looks like, mutates the state and
returns the events to publish. Same inputs, same events: fill ids derive from the order, so a
replayed input can never book a second fill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from fillstream.core import ledger, pricing
from fillstream.core.events import (
    AccountStatusChanged,
    DrawdownViolation,
    Event,
    Fill,
    OrderEvent,
    OrderStatus,
)
from fillstream.core.model import (
    HUNDRED,
    ZERO,
    Account,
    AccountLimits,
    Instrument,
    Kind,
    Liquidity,
    Order,
    OrderIds,
    OrderType,
    Reason,
    RestingOrder,
    SeenOrder,
    Side,
    position_key,
    split_position_key,
)


@dataclass(frozen=True)
class Market:
    """What the rules may know of the market: instruments and last trade prices, by symbol."""

    instrument: Callable[[str], Instrument | None]
    last_price: Callable[[str], Decimal | None]


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


def is_replay(order_ids: OrderIds, order: Order, offset: int) -> bool:
    """The same order message read again after a restart: already handled, publish nothing."""
    seen = order_ids.get(order.order_id)
    return seen is not None and seen.offset == offset


def submit_order(
    account: Account | None,
    order: Order,
    market: Market,
    *,
    order_ids: OrderIds,
    now: datetime,
    offset: int,
    duplicate_window: timedelta,
) -> list[Event]:
    try:
        return _execute(account, order, market, order_ids, now, offset, duplicate_window)
    except Rejected as rejection:
        return [
            OrderEvent(
                order.order_id,
                order.account_id,
                OrderStatus.REJECTED,
                now,
                rejection.reason,
                rejection.detail,
            )
        ]


def _execute(
    account: Account | None,
    order: Order,
    market: Market,
    order_ids: OrderIds,
    now: datetime,
    offset: int,
    duplicate_window: timedelta,
) -> list[Event]:
    instrument = market.instrument(order.symbol)
    _check_well_formed(order, instrument)
    if account is None:
        raise Rejected(Reason.UNKNOWN_ACCOUNT, f"no account {order.account_id!r}")
    if account.halted:
        raise Rejected(Reason.ACCOUNT_HALTED, "account halted after a drawdown violation")
    seen = order_ids.get(order.order_id)
    if seen is not None and seen.ts >= now - duplicate_window:
        raise Rejected(Reason.DUPLICATE_ORDER_ID, f"order_id {order.order_id!r} already used")
    order_ids.add(order.order_id, SeenOrder(now, offset))
    if instrument is None:
        raise Rejected(Reason.UNKNOWN_SYMBOL, f"no instrument {order.symbol!r}")
    last = market.last_price(order.symbol)
    if last is None:
        raise Rejected(Reason.NO_MARKET_DATA, f"no tick yet for {order.symbol!r}")

    reference = pricing.outcome_price(instrument, last, order.outcome)
    immediate = order.type is OrderType.MARKET or pricing.marketable(
        order.side, reference, order.limit_price
    )
    if order.type is OrderType.MARKET:
        price = pricing.taker_price(instrument, reference, order.side)
    elif immediate:
        price = pricing.limit_taker_price(instrument, reference, order.side, order.limit_price)
    else:
        price = order.limit_price
    fee_bps = instrument.taker_fee_bps if immediate else instrument.maker_fee_bps
    notional = order.quantity * price
    fee = pricing.fee(notional, fee_bps)
    marks = marks_of(account, market)
    equity = ledger.equity(account, marks)
    _check_risk_limit(account, notional, equity)
    if instrument.kind is Kind.CRYPTO:
        _check_margin(account, order, market, marks, equity, fee, last, immediate)
    else:
        _check_fully_funded(account, order, notional, fee)

    accepted = OrderEvent(order.order_id, account.account_id, OrderStatus.ACCEPTED, now)
    events: list[Event] = [accepted]
    if not immediate:
        account.resting[order.order_id] = RestingOrder(order, fee_bps)
        return events
    events += _fill(account, market, order, price, fee, Liquidity.TAKER, now)
    events += mark(account, market, now)
    return events


def _check_well_formed(order: Order, instrument: Instrument | None) -> None:
    def invalid(detail: str) -> Rejected:
        return Rejected(Reason.INVALID_ORDER, detail)

    if order.quantity <= 0:
        raise invalid("quantity must be positive")
    if order.type is OrderType.LIMIT and order.limit_price is None:
        raise invalid("a limit order needs a limit_price")
    if order.type is OrderType.MARKET and order.limit_price is not None:
        raise invalid("a market order takes no limit_price")
    if order.limit_price is not None and order.limit_price <= 0:
        raise invalid("limit_price must be positive")
    if instrument is None:
        return
    if instrument.kind is Kind.PREDICTION:
        if order.outcome is None:
            raise invalid("a prediction order needs an outcome (yes or no)")
        if order.limit_price is not None and order.limit_price >= 1:
            raise invalid("a prediction limit_price must be below 1")
    elif order.outcome is not None:
        raise invalid("a crypto order takes no outcome")
    if instrument.lot_size and order.quantity % instrument.lot_size != 0:
        raise invalid(f"quantity must be a multiple of the lot size {instrument.lot_size}")
    if (
        instrument.tick_size
        and order.limit_price is not None
        and order.limit_price % instrument.tick_size != 0
    ):
        raise invalid(f"limit_price must be a multiple of the tick size {instrument.tick_size}")


def _check_risk_limit(account: Account, notional: Decimal, equity: Decimal) -> None:
    largest = account.limits.max_order_pct / HUNDRED * equity
    if notional > largest:
        raise Rejected(
            Reason.RISK_LIMIT,
            f"notional {notional} exceeds {account.limits.max_order_pct}% of equity {equity}",
        )


def _check_margin(
    account: Account,
    order: Order,
    market: Market,
    marks: dict[str, Decimal],
    equity: Decimal,
    fee: Decimal,
    last: Decimal,
    immediate: bool,
) -> None:
    key = order.symbol
    held = account.positions[key].quantity if key in account.positions else ZERO
    signed = order.quantity if order.side is Side.BUY else -order.quantity
    if held != 0 and (held > 0) != (signed > 0) and order.quantity <= abs(held):
        return  # only reduces a position: never refused for funds
    resting_notional = sum(
        (
            resting.order.quantity * resting.order.limit_price
            for resting in account.resting.values()
            if _kind(market, resting.order.symbol) is Kind.CRYPTO
        ),
        ZERO,
    )
    if immediate:
        others = {k: v for k, v in marks.items() if k != key}
        exposure = ledger.gross_exposure(_without(account, key), others) + abs(held + signed) * last
    else:
        exposure = ledger.gross_exposure(account, marks)
        resting_notional += order.quantity * order.limit_price
    required = (exposure + resting_notional) / account.limits.max_leverage
    if equity - fee < required:
        raise Rejected(
            Reason.INSUFFICIENT_FUNDS,
            f"equity {equity} less fee {fee} is below the margin {required} at leverage "
            f"{account.limits.max_leverage}",
        )


def _without(account: Account, key: str) -> Account:
    positions = {k: v for k, v in account.positions.items() if k != key}
    return Account(
        account.account_id,
        account.starting_balance,
        account.cash,
        account.peak_equity,
        account.limits,
        positions=positions,
    )


def _check_fully_funded(account: Account, order: Order, notional: Decimal, fee: Decimal) -> None:
    key = position_key(order.symbol, order.outcome)
    if order.side is Side.BUY:
        reserved = sum(
            (
                resting.reserved_cash
                for resting in account.resting.values()
                if resting.order.outcome is not None and resting.order.side is Side.BUY
            ),
            ZERO,
        )
        available = account.cash - reserved
        if notional + fee > available:
            raise Rejected(
                Reason.INSUFFICIENT_FUNDS,
                f"cost {notional} plus fee {fee} exceeds available cash {available}",
            )
        return
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


def _kind(market: Market, symbol: str) -> Kind | None:
    instrument = market.instrument(symbol)
    return instrument.kind if instrument else None


def _fill(
    account: Account,
    market: Market,
    order: Order,
    price: Decimal,
    fee: Decimal,
    liquidity: Liquidity,
    now: datetime,
    *,
    fill_id: str | None = None,
    liquidation: bool = False,
) -> list[Event]:
    key = position_key(order.symbol, order.outcome)
    realized = ledger.apply_trade(account, key, order.side, order.quantity, price, fee)
    position = account.positions.get(key)
    fill = Fill(
        fill_id=fill_id or f"{account.account_id}:{order.order_id}",
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
        equity_after=ledger.equity(account, marks_of(account, market)),
        realized_pnl=realized,
    )
    return [fill, OrderEvent(order.order_id, account.account_id, OrderStatus.FILLED, now)]


def fill_resting(account: Account, symbol: str, market: Market, now: datetime) -> list[Event]:
    """Fill the account's resting limits on `symbol` that its last price trades at or through."""
    instrument = market.instrument(symbol)
    last = market.last_price(symbol)
    events: list[Event] = []
    if instrument is None or last is None:
        return events
    for order_id, resting in list(account.resting.items()):
        order = resting.order
        if order.symbol != symbol:
            continue
        reference = pricing.outcome_price(instrument, last, order.outcome)
        if not pricing.marketable(order.side, reference, order.limit_price):
            continue
        del account.resting[order_id]
        fee = pricing.fee(order.quantity * order.limit_price, resting.fee_bps)
        events += _fill(account, market, order, order.limit_price, fee, Liquidity.MAKER, now)
    return events


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
            drawdown,
            equity,
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
        side = Side.SELL if position.quantity > 0 else Side.BUY
        reference = pricing.outcome_price(instrument, last, outcome)
        price = pricing.taker_price(instrument, reference, side)
        quantity = abs(position.quantity)
        order = Order(
            order_id=f"liquidation-{key}",
            account_id=account.account_id,
            symbol=symbol,
            side=side,
            type=OrderType.MARKET,
            quantity=quantity,
            outcome=outcome,
        )
        fee = pricing.fee(quantity * price, instrument.taker_fee_bps)
        fill, _ = _fill(
            account,
            market,
            order,
            price,
            fee,
            Liquidity.TAKER,
            now,
            fill_id=f"{account.account_id}:liquidation:{key}",
            liquidation=True,
        )
        events.append(fill)
    return events
