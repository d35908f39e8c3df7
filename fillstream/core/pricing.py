"""Execution prices and fees: slippage and rounding always go against the taker, and a price
never leaves its instrument's open interval: above 0, and below 1 for prediction shares."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from fillstream.core import ledger
from fillstream.core.model import (
    BPS,
    EXACT,
    ONE,
    QUANTUM,
    Account,
    Instrument,
    Kind,
    Market,
    Outcome,
    Quote,
    Side,
    rounded,
    split_position_key,
)


def outcome_price(instrument: Instrument, last_price: Decimal, outcome: Outcome | None) -> Decimal:
    """The traded price of what the order buys: the tick for crypto and YES, 1 - tick for NO."""
    if instrument.kind is Kind.PREDICTION and outcome is Outcome.NO:
        return ONE - last_price
    return last_price


@dataclass(frozen=True)
class Touch:
    """The quote an order would trade against, in the price of what it buys or sells: the ask
    for a buy, the bid for a sell, and ``size`` quoted there (None: unknown)."""

    price: Decimal
    size: Decimal | None


def touch(
    instrument: Instrument, quote: Quote | None, side: Side, outcome: Outcome | None
) -> Touch | None:
    """A buy takes the ask and a sell the bid. A NO share is the other side of YES: buying NO
    takes 1 - the YES bid (and its size), selling NO 1 - the YES ask."""
    if quote is None:
        return None
    on_ask = takes_ask(instrument, side, outcome)
    price, size = (quote.ask, quote.ask_size) if on_ask else (quote.bid, quote.bid_size)
    if price is None:
        return None
    return Touch(outcome_price(instrument, price, outcome), size)


def takes_ask(instrument: Instrument, side: Side, outcome: Outcome | None) -> bool:
    """Whether an order of ``side`` trades against the (YES) ask: buys, and sells of NO."""
    no = instrument.kind is Kind.PREDICTION and outcome is Outcome.NO
    return (side is Side.BUY) != no


def side_reference(
    instrument: Instrument,
    last_price: Decimal,
    quote: Quote | None,
    side: Side,
    outcome: Outcome | None,
) -> Decimal:
    """The price an order of ``side`` watches: what it would trade against when quoted (the
    ask for buys, the bid for sells), else the last price."""
    quoted = touch(instrument, quote, side, outcome)
    return quoted.price if quoted else outcome_price(instrument, last_price, outcome)


def valid_reference(instrument: Instrument, last_price: Decimal) -> bool:
    """A last price the instrument can trade at: a prediction's YES price inside (0, 1)."""
    return last_price > 0 and (instrument.kind is Kind.CRYPTO or last_price < ONE)


def step(instrument: Instrument) -> Decimal:
    """The price grid: the tick size, or the money quantum for an instrument without one."""
    return instrument.tick_size or QUANTUM


def round_against_taker(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding) * tick


def inside(instrument: Instrument, price: Decimal) -> Decimal:
    """The nearest price on the grid strictly inside the bounds: one step above 0 and, for
    prediction shares, one step below the payout of 1. Slippage never pushes a fill past them."""
    tick = step(instrument)
    price = max(price, tick)
    if instrument.kind is Kind.PREDICTION:
        price = min(price, ONE - tick)
    return price


def taker_price(instrument: Instrument, reference: Decimal, side: Side) -> Decimal:
    """The reference moved by the slippage against the taker: buys pay more, sells get less."""
    with localcontext(EXACT):
        slip = instrument.slippage_bps / BPS
        moved = reference * (ONE + slip) if side is Side.BUY else reference * (ONE - slip)
        return inside(instrument, round_against_taker(moved, side, step(instrument)))


def marketable(side: Side, reference: Decimal, limit_price: Decimal) -> bool:
    """A limit trades when the market is at or through it."""
    return reference <= limit_price if side is Side.BUY else reference >= limit_price


def limit_taker_price(
    instrument: Instrument, reference: Decimal, side: Side, limit_price: Decimal
) -> Decimal:
    """A marketable limit fills like a market order, but never worse than its limit."""
    price = taker_price(instrument, reference, side)
    return min(price, limit_price) if side is Side.BUY else max(price, limit_price)


def trade_fee(quantity: Decimal, price: Decimal, side: Side, fee_bps: Decimal) -> Decimal:
    """The fee on a trade's cash, as the ledger books it."""
    return fee(ledger.cash_amount(quantity * price, side), fee_bps)


def fee(notional: Decimal, fee_bps: Decimal) -> Decimal:
    """Rounded up to the money quantum: the venue never undercharges."""
    with localcontext(EXACT):
        return rounded(notional * fee_bps / BPS, ROUND_CEILING)


def marks_of(account: Account, market: Market) -> dict[str, Decimal]:
    """Each position's mark: the last price, or 1 - last for NO shares."""
    marks = {}
    for key in account.positions:
        symbol, outcome = split_position_key(key)
        instrument = market.instrument(symbol)
        last = market.last_price(symbol)
        assert instrument is not None and last is not None, f"held {key} without market data"
        marks[key] = outcome_price(instrument, last, outcome)
    return marks
