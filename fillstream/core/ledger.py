"""Cash, positions and realized P&L by the average-cost method; equity marked to market."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from fillstream.core.model import ZERO, Account, Position, Side


def apply_trade(
    account: Account, key: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal
) -> Decimal:
    """Book one trade; return its realized P&L (before fees)."""
    signed = quantity if side is Side.BUY else -quantity
    position = account.positions.get(key, Position())
    realized = ZERO
    held = position.quantity
    if held == 0 or (held > 0) == (signed > 0):
        total = abs(held) + quantity
        position.avg_price = (abs(held) * position.avg_price + quantity * price) / total
        position.quantity = held + signed
    else:
        closed = min(abs(held), quantity)
        direction = 1 if held > 0 else -1
        realized = closed * (price - position.avg_price) * direction
        position.quantity = held + signed
        if position.quantity == 0:
            position.avg_price = ZERO
        elif (position.quantity > 0) != (held > 0):
            position.avg_price = price
    notional = quantity * price
    account.cash += -notional - fee if side is Side.BUY else notional - fee
    if position.quantity == 0:
        account.positions.pop(key, None)
    else:
        account.positions[key] = position
    return realized


def equity(account: Account, marks: Mapping[str, Decimal]) -> Decimal:
    """Cash plus every position at its mark (keyed like the positions)."""
    return account.cash + sum(
        (position.quantity * marks[key] for key, position in account.positions.items()), ZERO
    )


def gross_exposure(account: Account, marks: Mapping[str, Decimal]) -> Decimal:
    return sum(
        (abs(position.quantity) * marks[key] for key, position in account.positions.items()), ZERO
    )
