"""Every pre-trade reason code, duplicates and replays, and the drawdown halt."""

from datetime import timedelta
from decimal import Decimal as D

import pytest

from fillstream.core import engine
from fillstream.core.events import AccountStatusChanged, DrawdownViolation
from fillstream.core.model import Order, OrderType, Side
from tests.unit.core.scenario import Book, crypto, fills, prediction, statuses


@pytest.fixture
def book() -> Book:
    book = Book(
        crypto("BTC", taker="0", slippage="0", tick="0.5", lot="0.01"),
        prediction("PRES", taker="0"),
        crypto("NEW"),
    )
    book.prices.update(BTC=D("100"), PRES=D("0.25"))
    return book


@pytest.mark.parametrize(
    ("symbol", "side", "quantity", "limit", "outcome", "detail"),
    [
        ("BTC", "buy", "0", None, None, "quantity must be positive"),
        ("BTC", "buy", "-1", None, None, "quantity must be positive"),
        ("BTC", "buy", "0.015", None, None, "quantity must be a multiple of the lot size 0.01"),
        ("BTC", "buy", "1", "99.2", None, "limit_price must be a multiple of the tick size 0.5"),
        ("BTC", "buy", "1", None, "yes", "a crypto order takes no outcome"),
        ("PRES", "buy", "1", None, None, "a prediction order needs an outcome (yes or no)"),
        ("PRES", "buy", "1", "1.2", "yes", "a prediction limit_price must be below 1"),
    ],
)
def test_invalid_orders(book: Book, symbol, side, quantity, limit, outcome, detail) -> None:
    account = book.account()
    (event,) = book.order(account, symbol, side, quantity, limit=limit, outcome=outcome)
    assert (event.status.value, event.reason.value, event.detail) == (
        "rejected",
        "INVALID_ORDER",
        detail,
    )


def test_limit_order_without_price_is_invalid(book: Book) -> None:
    order = Order("o1", "acc-1", "BTC", Side.BUY, OrderType.LIMIT, D("1"))
    (event,) = engine.submit_order(
        book.account(),
        order,
        book.market,
        order_ids=book.order_ids,
        now=book.clock,
        offset=1,
        duplicate_window=timedelta(1),
    )
    assert (event.reason.value, event.detail) == (
        "INVALID_ORDER",
        "a limit order needs a limit_price",
    )


def test_reason_codes_in_check_order(book: Book) -> None:
    account = book.account(balance="1000", max_order_pct="50")
    assert statuses(book.order(None, "BTC", "buy", "1")) == [("rejected", "UNKNOWN_ACCOUNT")]
    assert statuses(book.order(account, "DOGE", "buy", "1")) == [("rejected", "UNKNOWN_SYMBOL")]
    assert statuses(book.order(account, "NEW", "buy", "1")) == [("rejected", "NO_MARKET_DATA")]
    # 6 * 100 = 600 > 50% of 1000
    assert statuses(book.order(account, "BTC", "buy", "6")) == [("rejected", "RISK_LIMIT")]
    assert statuses(book.order(account, "BTC", "buy", "5")) == [
        ("accepted", None),
        ("filled", None),
    ]
    # Exposure after: 10 * 100 = 1000, just covered by equity 1000 at leverage 1 ...
    assert statuses(book.order(account, "BTC", "buy", "5")) == [
        ("accepted", None),
        ("filled", None),
    ]
    # ... and one more lot is not: 10.01 * 100 = 1001 > 1000.
    assert statuses(book.order(account, "BTC", "buy", "0.01")) == [
        ("rejected", "INSUFFICIENT_FUNDS")
    ]
    # Reducing is never refused for funds.
    assert statuses(book.order(account, "BTC", "sell", "4")) == [
        ("accepted", None),
        ("filled", None),
    ]


def test_prediction_funds_count_cash_reserved_by_resting_buys(book: Book) -> None:
    account = book.account(balance="100")
    # Rests below the market: reserves 300 * 0.2 = 60 of the 100.
    assert statuses(book.order(account, "PRES", "buy", "300", limit="0.2", outcome="yes")) == [
        ("accepted", None)
    ]
    # 200 YES at 0.25 costs 50 > 40 still free.
    assert statuses(book.order(account, "PRES", "buy", "200", outcome="yes")) == [
        ("rejected", "INSUFFICIENT_FUNDS")
    ]
    assert statuses(book.order(account, "PRES", "buy", "160", outcome="yes"))[-1] == (
        "filled",
        None,
    )


def test_duplicate_order_id_is_rejected(book: Book) -> None:
    account = book.account()
    book.order(account, "BTC", "buy", "1", order_id="same")
    assert statuses(book.order(account, "BTC", "buy", "1", order_id="same")) == [
        ("rejected", "DUPLICATE_ORDER_ID")
    ]


def test_order_ids_are_forgotten_after_the_window(book: Book) -> None:
    account = book.account()
    book.order(account, "BTC", "buy", "1", order_id="again")
    book.clock += timedelta(hours=25)
    assert statuses(book.order(account, "BTC", "buy", "1", order_id="again"))[-1] == (
        "filled",
        None,
    )


def test_price_move_alone_breaches_drawdown_halts_cancels_and_liquidates() -> None:
    book = Book(crypto("BTC", taker="0", maker="0", slippage="0"), prediction("PRES", taker="0"))
    book.prices.update(BTC=D("500"), PRES=D("0.5"))
    account = book.account(balance="1000", max_drawdown_pct="10")
    book.order(account, "BTC", "buy", "1")
    book.order(account, "PRES", "buy", "100", outcome="yes")  # cash 500 - 50 = 450
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100", order_id="rest")) == [
        ("accepted", None)
    ]
    assert book.tick(account, "BTC", "600") == []  # equity 450 + 600 + 50 = 1100: the new peak
    assert book.tick(account, "BTC", "490") == []  # 990: 110 / 1100 = 10 % exactly, not over
    events = book.tick(account, "BTC", "489")  # 989: 111 / 1100 = 10.0909... %
    violation, status = events[0], events[1]
    assert isinstance(violation, DrawdownViolation) and isinstance(status, AccountStatusChanged)
    assert (violation.equity, violation.peak_equity) == (D("989"), D("1100"))
    # 111 / 1100 * 100, to the 18 places the wire carries
    assert violation.drawdown_pct == D("10.090909090909090909")
    assert status.status == "halted"
    assert statuses(events) == [("cancelled", "ACCOUNT_HALTED")]
    liquidations = fills(events)
    assert [(f.symbol, f.side.value, f.quantity, f.price, f.liquidation) for f in liquidations] == [
        ("BTC", "sell", D("1"), D("489"), True),
        ("PRES", "sell", D("100"), D("0.5"), True),
    ]
    assert account.cash == D("989.0") and account.positions == {} and account.resting == {}
    assert book.tick(account, "BTC", "100") == []  # halted once, never again
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_HALTED")]
