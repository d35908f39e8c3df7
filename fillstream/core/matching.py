"""What the market offers an order: on arrival, the parts it takes from the quote (or the last
price) and what is left to rest; on a tick, how much of each resting limit trades.

Accounts trade against the market alone, as on a paper book: one account's fills never use up
another's liquidity.
"""

from __future__ import annotations

from decimal import Decimal

from fillstream.core import pricing
from fillstream.core.model import (
    ZERO,
    Instrument,
    Order,
    Quote,
    Side,
)


def plan(
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
    at_touch = in_lots(min(order.quantity, quoted.size), instrument)
    takes = [(at_touch, quoted.price)] if at_touch else []
    beyond = order.quantity - at_touch
    if beyond and limit is None:
        if takes and slipped == quoted.price:
            return [(order.quantity, slipped)], ZERO
        return [*takes, (beyond, slipped)], ZERO
    return takes, beyond


def in_lots(quantity: Decimal, instrument: Instrument) -> Decimal:
    lot = instrument.lot_size
    return quantity - quantity % lot if lot else quantity


class Through:
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
        quantity = in_lots(max(quantity, ZERO), self._instrument)
        self._taken[book] = taken + quantity
        return quantity
