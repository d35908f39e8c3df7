"""Execution prices and fees: slippage and tick rounding always go against the taker."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from fillstream.core.model import BPS, ONE, Instrument, Kind, Outcome, Side


def outcome_price(instrument: Instrument, last_price: Decimal, outcome: Outcome | None) -> Decimal:
    """The traded price of what the order buys: the tick for crypto and YES, 1 - tick for NO."""
    if instrument.kind is Kind.PREDICTION and outcome is Outcome.NO:
        return ONE - last_price
    return last_price


def round_against_taker(price: Decimal, side: Side, tick_size: Decimal | None) -> Decimal:
    if not tick_size:
        return price
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (price / tick_size).to_integral_value(rounding) * tick_size


def taker_price(instrument: Instrument, reference: Decimal, side: Side) -> Decimal:
    """The reference moved by the slippage against the taker: buys pay more, sells get less."""
    slip = instrument.slippage_bps / BPS
    moved = reference * (ONE + slip) if side is Side.BUY else reference * (ONE - slip)
    return round_against_taker(moved, side, instrument.tick_size)


def marketable(side: Side, reference: Decimal, limit_price: Decimal) -> bool:
    """A limit trades when the market is at or through it."""
    return reference <= limit_price if side is Side.BUY else reference >= limit_price


def limit_taker_price(
    instrument: Instrument, reference: Decimal, side: Side, limit_price: Decimal
) -> Decimal:
    """A marketable limit fills like a market order, but never worse than its limit."""
    price = taker_price(instrument, reference, side)
    return min(price, limit_price) if side is Side.BUY else max(price, limit_price)


def fee(notional: Decimal, fee_bps: Decimal) -> Decimal:
    return notional * fee_bps / BPS
