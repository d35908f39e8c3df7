"""One buying-power model for the whole account, used for every order, immediate or resting.

What an account has committed is its positions at their marks (a crypto short counts like a long)
plus what every resting order would add if it all filled, at its limit (a stop or if-touched
order at its trigger). That may not exceed its
equity, less the fees its resting orders would pay, times ``max_leverage``. A resting order adds
only the part of its quantity that the position's reducing orders before it have not already
offered to close; an order that adds nothing is reducing, and never refused for funds.

Prediction purchases are also fully paid: their cost and fee must come out of cash that is
neither the proceeds of a crypto short (its liability at the mark) nor held by a resting
prediction buy. docs/topics.md, "Risk invariants", has the arithmetic with an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

from fillstream.core import ledger, pricing, triggers
from fillstream.core.model import EXACT, ZERO, Account, Order, RestingOrder, Side, position_key


@dataclass(frozen=True)
class Commitment:
    used: Decimal
    """Positions at their marks, plus what the resting orders add at their limits."""
    power: Decimal
    """Equity less the resting orders' fees, times the account's max_leverage."""
    free_cash: Decimal
    """Cash for prediction purchases: less crypto short liabilities and resting prediction buys."""

    @property
    def exceeded(self) -> bool:
        return self.used > self.power


def adding(account: Account) -> dict[str, Decimal]:
    """Per resting order, in arrival order, the quantity that would grow its position."""
    offered: dict[str, Decimal] = {}
    reduces: dict[str, Decimal] = {}
    parts: dict[str, Decimal] = {}
    for order_id, resting in account.resting.items():
        order = resting.order
        key = position_key(order.symbol, order.outcome)
        position = account.positions.get(key)
        held = position.quantity if position else ZERO
        opposes = held != 0 and (held > 0) != (order.side is Side.BUY)
        # One of an OCO pair cancels the other when it fills: they offer to close the same part.
        shared = reduces.get(order.oco_with, ZERO) if order.oco_with else ZERO
        open_to_close = abs(held) - offered.get(key, ZERO) + shared if opposes else ZERO
        reducing = min(order.quantity, max(open_to_close, ZERO))
        offered[key] = offered.get(key, ZERO) + max(reducing - shared, ZERO)
        reduces[order_id] = reducing
        parts[order_id] = order.quantity - reducing
    return parts


def growth(account: Account, order: Order) -> Decimal:
    """How much of a new order would grow its position, after what the resting orders already
    offer to close: none for an order that only reduces it."""
    probe = replace(account, resting={**account.resting, "": RestingOrder(order, ZERO)})
    return adding(probe)[""]


def resting_cost(resting: RestingOrder) -> tuple[Decimal, Decimal]:
    """The cash a resting order would move on filling at its limit, and the fee it would pay."""
    order = resting.order
    price = triggers.reservation_price(order)
    notional = ledger.cash_amount(order.quantity * price, order.side)
    return notional, pricing.fee(notional, resting.fee_bps)


def commitment(account: Account, marks: Mapping[str, Decimal]) -> Commitment:
    with localcontext(EXACT):
        used = ZERO
        short_liability = ZERO
        for key, position in account.positions.items():
            value = position.quantity * marks[key]
            used += abs(value)
            if value < 0:
                short_liability -= value
        fees = ZERO
        held_for_predictions = ZERO
        for order_id, part in adding(account).items():
            resting = account.resting[order_id]
            order = resting.order
            notional, fee = resting_cost(resting)
            used += part * triggers.reservation_price(order)
            fees += fee
            if order.outcome is not None and order.side is Side.BUY:
                held_for_predictions += notional + fee
        power = (ledger.equity(account, marks) - fees) * account.limits.max_leverage
        free_cash = account.cash - short_liability - held_for_predictions
        return Commitment(used, power, free_cash)
