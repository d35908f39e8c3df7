"""What a fill does to an account's other orders: the OCO partner ends (or shrinks), reduce-only
orders fit the position that is left, and a bracket's exits follow its entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from fillstream.core import triggers
from fillstream.core.events import (
    Event,
    OrderStatus,
    ended,
    order_event,
)
from fillstream.core.matching import in_lots
from fillstream.core.model import (
    ENGINE_ID_PREFIX,
    ZERO,
    Account,
    Instrument,
    Market,
    Order,
    OrderType,
    Side,
    position_key,
)


def one_cancels_other(
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
        return [order_event(other_id, account.account_id, OrderStatus.REPLACED, now,
                             other.progress, remaining, detail=detail)]  # fmt: skip
    del account.resting[other_id]
    filled = "partially filled" if leaves else "filled"
    return [ended(account, other, OrderStatus.CANCELLED, now,
                   detail=f"oco: {order.order_id} {filled}")]  # fmt: skip


def exits(entry: Order, quantity: Decimal) -> list[Order]:
    """A bracket entry's exits for ``quantity`` of it, stop-loss first."""
    side = Side.SELL if entry.side is Side.BUY else Side.BUY
    stop_id, profit_id = exit_ids(entry.order_id)
    both = entry.take_profit_price is not None and entry.stop_loss_price is not None
    orders = []
    if entry.stop_loss_price is not None:
        orders.append(Order(stop_id, entry.account_id, entry.symbol, side, OrderType.STOP_MARKET,
                           quantity, entry.outcome, trigger_price=entry.stop_loss_price,
                           reduce_only=True, oco_with=profit_id if both else None))  # fmt: skip
    if entry.take_profit_price is not None:
        orders.append(Order(profit_id, entry.account_id, entry.symbol, side, OrderType.LIMIT,
                           quantity, entry.outcome, limit_price=entry.take_profit_price,
                           reduce_only=True, oco_with=stop_id if both else None))  # fmt: skip
    return orders


def exit_ids(entry_id: str) -> tuple[str, str]:
    return f"{ENGINE_ID_PREFIX}sl-{entry_id}", f"{ENGINE_ID_PREFIX}tp-{entry_id}"


def exit_fee_bps(exit_order: Order, instrument: Instrument) -> Decimal:
    waits = triggers.waits(exit_order)
    return instrument.taker_fee_bps if waits else instrument.maker_fee_bps


def end_unprotected_entries(account: Account, now: datetime) -> list[Event]:
    """A bracket entry that has filled in part, and whose exits have all ended (one filled, or
    was cancelled or refused), is cancelled: the rest would fill unprotected, and a bracket is
    one round trip."""
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        order = resting.order
        if (
            (order.take_profit_price is not None or order.stop_loss_price is not None)
            and resting.progress.filled
            and not any(exit_id in account.resting for exit_id in exit_ids(order_id))
        ):
            del account.resting[order_id]
            events.append(ended(account, resting, OrderStatus.CANCELLED, now,
                                 detail="bracket: no exit open for the rest"))  # fmt: skip
    return events


def fit_reduce_only(account: Account, market: Market, key: str, now: datetime) -> list[Event]:
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
            fits = in_lots(fits, instrument)
        left -= max(fits - shared, ZERO)
        fitted[order_id] = fits
        if fits == order.quantity:
            continue
        if not fits:
            del account.resting[order_id]
            events.append(ended(account, resting, OrderStatus.CANCELLED, now,
                                 detail="reduce_only: nothing left to close"))  # fmt: skip
            continue
        account.resting[order_id] = replace(resting, order=replace(order, quantity=fits))
        events.append(order_event(order_id, account.account_id, OrderStatus.REPLACED, now,
                                   resting.progress, fits,
                                   detail=f"reduce_only: open quantity {order.quantity} -> "
                                   f"{fits}, the position shrank"))  # fmt: skip
    return events


def grow_exits(
    account: Account,
    market: Market,
    entry: Order,
    quantity: Decimal,
    filled: Decimal,
    now: datetime,
) -> list[Event]:
    """A later fill of a bracket entry (``quantity``, ``filled`` in all) grows its exits still
    open by as much; then the position's reduce-only orders fit it again."""
    events: list[Event] = []
    for exit_id in exit_ids(entry.order_id):
        resting = account.resting.get(exit_id)
        if resting is None:
            continue
        grown = resting.order.quantity + quantity
        account.resting[exit_id] = replace(resting, order=replace(resting.order, quantity=grown))
        detail = (
            f"bracket of {entry.order_id}: open quantity {resting.order.quantity} -> {grown}, "
            f"the entry has filled {filled}"
        )
        events.append(order_event(exit_id, account.account_id, OrderStatus.REPLACED, now,
                                  resting.progress, grown, detail=detail))  # fmt: skip
    key = position_key(entry.symbol, entry.outcome)
    return events + fit_reduce_only(account, market, key, now)
