"""Prediction markets resolving: every position paid out at exact cash, resting orders ended,
and the market closed to new orders."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from fillstream.core.events import DrawdownViolation
from fillstream.core.model import Account, Liquidity
from tests.unit.core.scenario import Book, fills, prediction, statuses


def holder(balance: str = "100", max_drawdown_pct: str = "50") -> tuple[Book, Account]:
    """10 YES bought at 0.4 (4, fee 1 %: 0.04) and 5 NO at 0.6 (3, fee 0.03), and a resting buy
    of 5 YES at 0.3."""
    book = Book(prediction("PRES", taker="100", maker="0", slippage="0"))
    book.prices["PRES"] = D("0.4")
    account = book.account(balance=balance, max_drawdown_pct=max_drawdown_pct)
    book.order(account, "PRES", "buy", "10", outcome="yes")
    book.order(account, "PRES", "buy", "5", outcome="no")
    book.order(account, "PRES", "buy", "5", limit="0.3", outcome="yes", order_id="bid")
    assert account.cash == D(balance) - D("7.07")
    return book, account


@pytest.mark.parametrize(
    ("result", "yes_payout", "prices", "realized", "cash"),
    [
        # YES pays 1: +10 on a cost of 4, the NO shares nothing on a cost of 3.
        ("yes", None, (D("1"), D("0")), (D("6"), D("-3")), D("102.93")),
        ("no", None, (D("0"), D("1")), (D("-4"), D("2")), D("97.93")),
        # Half each: 5 for the YES (cost 4), 2.5 for the NO (cost 3).
        ("split", "0.5", (D("0.5"), D("0.5")), (D("1"), D("-0.5")), D("100.43")),
        # Each share back at its cost; only the fees are lost.
        ("void", None, (D("0.4"), D("0.6")), (D("0"), D("0")), D("99.93")),
    ],
)
def test_each_result_pays_every_position_out_exactly(
    result: str, yes_payout: str | None, prices: tuple, realized: tuple, cash: D
) -> None:
    book, account = holder()
    events = book.resolve(account, "PRES", result, yes_payout)
    assert statuses(events) == [("cancelled", "MARKET_RESOLVED")]
    settled = fills(events)
    assert [(f.outcome.value, f.quantity, f.price, f.fee, f.realized_pnl) for f in settled] == [  # type: ignore[union-attr]
        ("yes", D("10"), prices[0], D("0"), realized[0]),
        ("no", D("5"), prices[1], D("0"), realized[1]),
    ]
    assert {(f.order_id, f.liquidity) for f in settled} == {
        ("~settlement-PRES", Liquidity.SETTLEMENT)
    }
    assert account.cash == cash and not account.positions and not account.resting
    assert statuses(book.order(account, "PRES", "buy", "1", outcome="yes")) == [
        ("rejected", "MARKET_RESOLVED")]  # fmt: skip


def test_a_void_market_returns_the_average_cost_to_the_money_quantum() -> None:
    book = Book(prediction("PRES", taker="0", maker="0", slippage="0"))
    book.prices["PRES"] = D("0.3")
    account = book.account(balance="100")
    book.order(account, "PRES", "buy", "1", outcome="yes")  # 0.3
    book.prices["PRES"] = D("0.35")
    book.order(account, "PRES", "buy", "2", outcome="yes")  # 0.7: cost 1 for 3 shares
    (fill,) = fills(book.resolve(account, "PRES", "void"))
    # The average cost is 0.333...3 to 18 places; 3 of them bring back 10^-18 less than 1.
    assert fill.price == D("0.333333333333333333")
    assert fill.realized_pnl == D("-0.000000000000000001")
    assert account.cash == D("99.999999999999999999")


def test_a_payout_below_the_marks_can_breach_the_drawdown_limit() -> None:
    book, account = holder(balance="50", max_drawdown_pct="5")
    events = book.resolve(account, "PRES", "no")
    # Equity 50 - 7.07 + 5 (the NO shares) = 47.93 against a peak of 50: 4.14 % down.
    assert not [e for e in events if isinstance(e, DrawdownViolation)]
    book2, account2 = holder(balance="50", max_drawdown_pct="5")
    book2.order(account2, "PRES", "sell", "5", outcome="no")  # the NO shares go at 0.6: 3
    events = book2.resolve(account2, "PRES", "no")
    # 50 - 7.07 + 3 - 0.03 = 45.9 in cash, the YES shares worth nothing: 8.2 % down.
    (violation,) = [e for e in events if isinstance(e, DrawdownViolation)]
    assert violation.equity == D("45.9") and account2.halted
