"""Orders that wait for the market: stops, if-touched orders and trailing stops.

They rest until the last price (of their outcome, for prediction shares) reaches their trigger,
then become the market or limit order they carry and go through the same placement as a new
one. A stop buys at or above its trigger and sells at or below it (it chases the move);
an if-touched order buys at or below and sells at or above (it waits for a better price). A
trailing stop's trigger follows the best price since it was placed, at its offset.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from fillstream.core.model import BPS, Instrument, OffsetType, Order, OrderType, Side

STOPS = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TRAILING_STOP_MARKET,
        OrderType.TRAILING_STOP_LIMIT,
    }
)
IF_TOUCHED = frozenset({OrderType.MARKET_IF_TOUCHED, OrderType.LIMIT_IF_TOUCHED})
WAITING = STOPS | IF_TOUCHED
TRAILING = frozenset({OrderType.TRAILING_STOP_MARKET, OrderType.TRAILING_STOP_LIMIT})
BECOME_MARKET = frozenset(
    {OrderType.STOP_MARKET, OrderType.MARKET_IF_TOUCHED, OrderType.TRAILING_STOP_MARKET}
)


def waits(order: Order) -> bool:
    return order.type in WAITING


def reached(order: Order, reference: Decimal) -> bool:
    trigger = order.trigger_price
    assert trigger is not None
    buy = order.side is Side.BUY
    if order.type in STOPS:
        return reference >= trigger if buy else reference <= trigger
    return reference <= trigger if buy else reference >= trigger


def trailed(order: Order, reference: Decimal, instrument: Instrument) -> Order:
    """A trailing stop with its trigger moved toward ``reference`` if it has gone its way
    (never back); any other order as it is."""
    if order.type not in TRAILING:
        return order
    candidate = _at_offset(order, reference, instrument)
    current = order.trigger_price
    better = (
        current is None
        or (order.side is Side.SELL and candidate > current)
        or (order.side is Side.BUY and candidate < current)
    )
    return replace(order, trigger_price=candidate) if better else order


def triggered(order: Order) -> Order:
    """The market or limit order a waiting order becomes."""
    if order.type in BECOME_MARKET:
        return replace(order, type=OrderType.MARKET, limit_price=None)
    limit = order.limit_price
    if order.type is OrderType.TRAILING_STOP_LIMIT:
        assert order.trigger_price is not None and order.limit_offset is not None
        beyond = order.limit_offset if order.side is Side.BUY else -order.limit_offset
        limit = order.trigger_price + beyond
    return replace(order, type=OrderType.LIMIT, limit_price=limit)


def reservation_price(order: Order) -> Decimal:
    """The price buying power reserves a resting order at: its limit, or where it triggers
    (a trailing stop limit's limit beyond it)."""
    if order.limit_price is not None:
        return order.limit_price
    assert order.trigger_price is not None
    if order.type is OrderType.TRAILING_STOP_LIMIT:
        assert order.limit_offset is not None
        if order.side is Side.BUY:
            return order.trigger_price + order.limit_offset
        return max(order.trigger_price - order.limit_offset, Decimal(0))
    return order.trigger_price


def _at_offset(order: Order, reference: Decimal, instrument: Instrument) -> Decimal:
    offset = order.trailing_offset
    assert offset is not None
    if order.trailing_offset_type is OffsetType.BPS:
        offset = reference * offset / BPS
    buy = order.side is Side.BUY
    trigger = reference + offset if buy else reference - offset
    tick = instrument.tick_size
    if tick:
        # Away from the market, to the tick: a buy stop up, a sell stop down.
        trigger = (trigger / tick).to_integral_value(ROUND_CEILING if buy else ROUND_FLOOR) * tick
    return trigger
