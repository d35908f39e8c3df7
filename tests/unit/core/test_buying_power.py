"""Sequences that used to step around the account's limits, each computed by hand."""

from datetime import timedelta
from decimal import Decimal as D

import pytest

from tests.unit.core.scenario import Book, crypto, fills, prediction, statuses


@pytest.fixture
def book() -> Book:
    book = Book(
        crypto("BTC", taker="0", maker="0", slippage="0"),
        prediction("PRES", taker="0", maker="0"),
    )
    book.prices.update(BTC=D("100"), PRES=D("0.5"))
    return book


def test_a_resting_prediction_buy_and_a_crypto_buy_share_one_buying_power(book: Book) -> None:
    account = book.account(balance="1000", leverage="1")
    # Rests below the market: 1000 YES at 0.4 would cost 400 when it fills.
    assert statuses(book.order(account, "PRES", "buy", "1000", "0.4", "yes")) == [
        ("accepted", None)
    ]
    # 7 BTC at 100 = 700; with the 400 the resting buy commits, 1100 > 1000 x 1.
    assert statuses(book.order(account, "BTC", "buy", "7")) == [("rejected", "INSUFFICIENT_FUNDS")]
    assert statuses(book.order(account, "BTC", "buy", "6"))[-1] == ("filled", None)


def test_short_proceeds_do_not_pay_for_prediction_shares(book: Book) -> None:
    account = book.account(balance="1000", leverage="2", max_order_pct="1000")
    book.order(account, "BTC", "sell", "10")  # cash 2000, of which 1000 is the short's liability
    # 2400 YES at 0.5 = 1200 > 2000 - 1000 free, although leverage 2 would allow 2000 - 1000.
    assert statuses(book.order(account, "PRES", "buy", "2400", outcome="yes")) == [
        ("rejected", "INSUFFICIENT_FUNDS")
    ]
    assert statuses(book.order(account, "PRES", "buy", "1800", outcome="yes"))[-1] == (
        "filled",
        None,
    )
    assert account.cash == D("1100")
    # The rest of the worked example in docs/topics.md: commitment 1 900 of 2 000.
    assert statuses(book.order(account, "BTC", "buy", "2", "90")) == [("accepted", None)]
    # 2 of the short already offered: closes 8, grows by 4: 1 900 + 360 > 2 000.
    assert statuses(book.order(account, "BTC", "buy", "12", "90")) == [
        ("rejected", "INSUFFICIENT_FUNDS")
    ]
    assert statuses(book.order(account, "BTC", "buy", "9", "90")) == [("accepted", None)]


def test_cash_a_resting_prediction_buy_holds_is_not_spent_twice(book: Book) -> None:
    account = book.account(balance="100", leverage="5")
    assert statuses(book.order(account, "PRES", "buy", "150", "0.4", "yes")) == [("accepted", None)]
    # 60 held; 100 YES at 0.5 = 50 > 40 free, whatever the leverage.
    assert statuses(book.order(account, "PRES", "buy", "100", outcome="no")) == [
        ("rejected", "INSUFFICIENT_FUNDS")
    ]
    assert statuses(book.order(account, "PRES", "buy", "80", outcome="no"))[-1] == ("filled", None)


def test_closing_is_never_refused_for_funds_or_size(book: Book) -> None:
    account = book.account(balance="1000", leverage="1", max_order_pct="10")
    for _ in range(10):
        book.order(account, "BTC", "buy", "1")  # 100 each: 10 % of equity at most
    book.prices["BTC"] = D("20")  # equity 200, the position worth 200: at its limit
    # 10 x 20 = 200 is 100 % of equity, far past max_order_pct, but it only closes.
    assert statuses(book.order(account, "BTC", "sell", "10"))[-1] == ("filled", None)
    assert account.positions == {} and account.cash == D("200")


def test_an_order_reduces_only_what_resting_orders_have_not_already_offered(book: Book) -> None:
    account = book.account(balance="1000", leverage="1", max_order_pct="40")
    book.order(account, "BTC", "buy", "3")
    book.order(account, "BTC", "buy", "2")  # 5 held, cash 500
    # Offers all 5 to close above the market: reducing, so no size check (600 > 40 % of 1000).
    assert statuses(book.order(account, "BTC", "sell", "5", "120")) == [("accepted", None)]
    # A second offer of the same 5 would open a short of 5 x 130 = 650 > 400.
    assert statuses(book.order(account, "BTC", "sell", "5", "130")) == [("rejected", "RISK_LIMIT")]
    # So would a sale of the same 5 at market (500 > 400): it no longer only closes.
    assert statuses(book.order(account, "BTC", "sell", "5")) == [("rejected", "RISK_LIMIT")]
    assert statuses(book.order(account, "BTC", "sell", "4"))[-1] == ("filled", None)


def test_prediction_fills_stay_strictly_inside_the_payout() -> None:
    book = Book(prediction("PRES", taker="0", slippage="50", tick="0.001"))
    account = book.account(balance="1000")
    book.prices["PRES"] = D("0.5")
    (no,) = fills(book.order(account, "PRES", "buy", "10", outcome="no"))
    assert no.price == D("0.503")  # 0.5 x 1.005 = 0.5025, rounded up to the tick
    book.prices["PRES"] = D("0.9999")
    # YES: 0.9999 x 1.005 = 1.0048995, rounded up to 1.005: capped a tick inside, at 0.999.
    (yes,) = fills(book.order(account, "PRES", "buy", "10", outcome="yes"))
    assert yes.price == D("0.999")
    # NO is worth 0.0001; x 0.995 rounds down to 0: a sale takes a tick above, 0.001.
    (sold,) = fills(book.order(account, "PRES", "sell", "10", outcome="no"))
    assert sold.price == D("0.001")


def test_no_sale_price_reaches_zero() -> None:
    book = Book(crypto("DUST", taker="0", slippage="9999", tick="0.01"))
    account = book.account(balance="1000", leverage="2")
    book.prices["DUST"] = D("0.01")
    # 0.01 x 0.0001 rounds down to 0: a fill is never free, it takes the first tick.
    (fill,) = fills(book.order(account, "DUST", "sell", "1"))
    assert fill.price == D("0.01")


def test_realized_pnl_and_fees_reconcile_with_cash_to_the_last_digit() -> None:
    book = Book(crypto("ETH", taker="3", slippage="0"))
    account = book.account(balance="1000")
    book.prices["ETH"] = D("1")
    book.order(account, "ETH", "buy", "1")
    book.prices["ETH"] = D("2")
    book.order(account, "ETH", "buy", "2")  # 3 held at a cost of 5: 1.666... each
    first = fills(book.order(account, "ETH", "sell", "1"))[0]
    second = fills(book.order(account, "ETH", "sell", "2"))[0]
    # 2 - 5/3 rounded to 18 places, then 4 - the rest of the cost: exactly 1 in all.
    assert first.realized_pnl == D("0.333333333333333333")
    assert second.realized_pnl == D("0.666666666666666667")
    # fees: 3 bps of 1, 4, 2 and 4
    assert account.cash == D("1000") + D("1") - D("0.0033")
    # 3.333333333333333333 left for 2: 1.6666666666666666665, to even
    assert first.position_avg_price == D("1.666666666666666666")


def test_fill_ids_never_repeat_and_engine_ids_cannot_be_taken(book: Book) -> None:
    account = book.account(balance="1000")
    first = fills(book.order(account, "BTC", "buy", "1", order_id="again"))[0]
    book.clock += timedelta(hours=25)  # past the duplicate window: the id may come back
    second = fills(book.order(account, "BTC", "buy", "1", order_id="again"))[0]
    assert (first.fill_id, second.fill_id) == ("acc-1#1", "acc-1#2")
    assert statuses(book.order(account, "BTC", "buy", "1", order_id="~liquidation-3")) == [
        ("rejected", "INVALID_ORDER")
    ]


@pytest.mark.parametrize(
    ("quantity", "limit", "detail"),
    [
        ("1e30", None, "quantity must be at most 1000000000000 with at most 18 decimal places"),
        ("1e-19", None, "quantity must be at most 1000000000000 with at most 18 decimal places"),
        ("1", "1e13", "limit_price must be at most 1000000000000 with at most 18 decimal places"),
    ],
)
def test_absurd_sizes_are_invalid_orders(book: Book, quantity: str, limit: str | None, detail):
    account = book.account()
    (event,) = book.order(account, "BTC", "buy", quantity, limit=limit)
    assert (event.reason.value, event.detail) == ("INVALID_ORDER", detail)
