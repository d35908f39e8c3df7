"""Cash, positions and realized P&L on an exact cost basis; equity marked to market."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from fillstream.core.model import EXACT, ZERO, Account, Position, Side, rounded


def cash_amount(value: Decimal, side: Side) -> Decimal:
    """A trade's cash to the money quantum, against the account: buys pay up, sells get less."""
    return rounded(value, ROUND_CEILING if side is Side.BUY else ROUND_FLOOR)


def apply_trade(
    account: Account, key: str, side: Side, quantity: Decimal, price: Decimal, fee: Decimal
) -> Decimal:
    """Book one trade; return its realized P&L (before fees).

    The part that closes a position takes its share of the cost basis with it (rounded once;
    the rest stays in the basis), so cash plus every cost basis always equals the starting
    balance plus realized P&L less fees, exactly.
    """
    with localcontext(EXACT):
        signed = quantity if side is Side.BUY else -quantity
        direction = 1 if side is Side.BUY else -1
        position = account.positions.get(key) or Position()
        held = position.quantity
        value = cash_amount(quantity * price, side)
        realized = ZERO
        if held == 0 or (held > 0) == (signed > 0):
            position.cost += direction * value
        else:
            closed = min(abs(held), quantity)
            removed = (
                position.cost
                if closed == abs(held)
                else rounded(position.cost * closed / abs(held))
            )
            closed_value = value if closed == quantity else cash_amount(closed * price, side)
            realized = closed_value - removed if held > 0 else -removed - closed_value
            position.cost += direction * (value - closed_value) - removed
        position.quantity = held + signed
        account.cash += -direction * value - fee
        if position.quantity == 0:
            account.positions.pop(key, None)
        else:
            account.positions[key] = position
        return realized


def equity(account: Account, marks: Mapping[str, Decimal]) -> Decimal:
    """Cash plus every position at its mark (keyed like the positions)."""
    with localcontext(EXACT):
        return account.cash + sum(
            (position.quantity * marks[key] for key, position in account.positions.items()), ZERO
        )
