"""Market and limit execution, fees, slippage, tick rounding, average cost: by hand."""

from decimal import Decimal as D

from fillstream.core.model import Liquidity
from tests.unit.core.scenario import Book, crypto, fills, prediction, statuses


def test_market_buy_pays_slippage_rounded_up_to_the_tick_and_the_taker_fee() -> None:
    book = Book(crypto("BTC", taker="10", slippage="5", tick="0.01"))
    account = book.account()
    book.prices["BTC"] = D("20000.37")
    events = book.order(account, "BTC", "buy", "0.1")
    # 20000.37 * 1.0005 = 20010.370185 -> 20010.38; fee = 2001.038 * 10 / 10000 = 2.001038
    (fill,) = fills(events)
    assert (fill.price, fill.fee, fill.liquidity) == (D("20010.38"), D("2.001038"), Liquidity.TAKER)
    assert fill.cash_after == D("10000") - D("2001.038") - D("2.001038") == D("7996.960962")
    assert (fill.position_quantity, fill.position_avg_price) == (D("0.1"), D("20010.38"))
    assert statuses(events) == [("accepted", None), ("filled", None)]


def test_market_sell_gets_less_rounded_down_to_the_tick() -> None:
    book = Book(crypto("BTC", taker="0", slippage="5", tick="0.01"))
    account = book.account()
    book.prices["BTC"] = D("20000.37")
    (fill,) = fills(book.order(account, "BTC", "sell", "0.1"))
    # 20000.37 * 0.9995 = 19990.369815 -> 19990.36
    assert fill.price == D("19990.36")
    assert fill.cash_after == D("10000") + D("1999.036")


def test_resting_limit_fills_at_its_limit_with_maker_fee_on_the_first_tick_through_it() -> None:
    book = Book(crypto("BTC", taker="10", maker="2", slippage="5"))
    account = book.account()
    book.prices["BTC"] = D("20000")
    assert statuses(book.order(account, "BTC", "buy", "0.1", limit="19900")) == [("accepted", None)]
    assert book.tick(account, "BTC", "19950") == []
    events = book.tick(account, "BTC", "19890")
    (fill,) = fills(events)
    # 0.1 * 19900 = 1990; maker fee 1990 * 2 / 10000 = 0.398
    assert (fill.price, fill.fee, fill.liquidity) == (D("19900"), D("0.398"), Liquidity.MAKER)
    assert fill.cash_after == D("8009.602")
    assert statuses(events) == [("filled", None)]
    assert book.tick(account, "BTC", "20100") == []
    position = account.positions["BTC"]
    assert (position.quantity, position.avg_price, position.cost) == (
        D("0.1"),
        D("19900"),
        D("1990"),
    )


def test_marketable_limit_fills_at_once_never_worse_than_its_limit() -> None:
    book = Book(crypto("BTC", taker="10", slippage="50"))
    account = book.account()
    book.prices["BTC"] = D("100")
    # Slippage would make it 100.5; the limit caps it at 100.2, still a taker fill.
    (fill,) = fills(book.order(account, "BTC", "buy", "1", limit="100.2"))
    assert (fill.price, fill.fee, fill.liquidity) == (D("100.2"), D("0.1002"), Liquidity.TAKER)


def test_short_sale_then_buy_back_realizes_the_average_cost_pnl() -> None:
    book = Book(crypto("ETH", taker="10", slippage="0"))
    account = book.account(leverage="2")
    book.prices["ETH"] = D("1000")
    (short,) = fills(book.order(account, "ETH", "sell", "2"))
    # cash 10000 + 2000 - 2 = 11998; short 2 @ 1000
    assert (short.cash_after, short.position_quantity, short.realized_pnl) == (
        D("11998"),
        D("-2"),
        D("0"),
    )
    assert short.equity_after == D("11998") - 2 * D("1000")
    book.tick(account, "ETH", "900")
    (cover,) = fills(book.order(account, "ETH", "buy", "1"))
    # realized 1 * (900 - 1000) * -1 = 100; cash 11998 - 900 - 0.9 = 11097.1
    assert (cover.realized_pnl, cover.cash_after) == (D("100"), D("11097.1"))
    assert (cover.position_quantity, cover.position_avg_price) == (D("-1"), D("1000"))
    (flip,) = fills(book.order(account, "ETH", "buy", "3"))
    # closes 1 (realized 100), opens +2 at 900; cash 11097.1 - 2700 - 2.7 = 8394.4
    assert (flip.realized_pnl, flip.position_quantity, flip.position_avg_price) == (
        D("100"),
        D("2"),
        D("900"),
    )
    assert flip.cash_after == D("8394.4")


def test_prediction_yes_and_no_buys_and_sells() -> None:
    book = Book(prediction("PRES", taker="100", slippage="0"))
    account = book.account()
    book.prices["PRES"] = D("0.60")
    (yes,) = fills(book.order(account, "PRES", "buy", "100", outcome="yes"))
    assert (yes.price, yes.fee, yes.cash_after) == (D("0.60"), D("0.6000"), D("9939.4000"))
    (no,) = fills(book.order(account, "PRES", "buy", "50", outcome="no"))
    # NO costs 1 - 0.60 = 0.40: 20 + 0.2 fee
    assert (no.price, no.fee, no.cash_after) == (D("0.40"), D("0.2000"), D("9919.2000"))
    book.tick(account, "PRES", "0.70")
    (sold,) = fills(book.order(account, "PRES", "sell", "40", outcome="yes"))
    # 40 * 0.70 = 28, fee 0.28, realized 40 * (0.70 - 0.60) = 4
    assert (sold.price, sold.realized_pnl, sold.cash_after) == (
        D("0.70"),
        D("4.00"),
        D("9946.9200"),
    )
    assert sold.position_quantity == D("60")
    assert statuses(book.order(account, "PRES", "sell", "51", outcome="no"))[-1] == (
        "rejected",
        "INSUFFICIENT_POSITION",
    )
    (no_sale,) = fills(book.order(account, "PRES", "sell", "50", outcome="no"))
    # NO now worth 0.30: realized 50 * (0.30 - 0.40) = -5
    assert (no_sale.price, no_sale.realized_pnl) == (D("0.30"), D("-5.00"))
