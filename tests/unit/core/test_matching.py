"""Quotes and partial fills: orders take what the bid or ask offers, resting limits fill as far as
trades and quotes go through them, and every order event says how far the order has got."""

from __future__ import annotations

from decimal import Decimal as D

from tests.unit.core.scenario import Book, crypto, fills, prediction, progress, statuses

QUOTED = {"bid": "99.5", "ask": "100.5", "ask_size": "3"}


def btc(slippage: str = "5") -> Book:
    book = Book(crypto("BTC", taker="10", maker="2", slippage=slippage))
    book.prices["BTC"] = D("100")
    return book


def test_a_market_buy_takes_the_quoted_size_at_the_ask_and_the_rest_beyond_it() -> None:
    book = btc()
    account = book.account(balance="10000")
    book.quote("BTC", **QUOTED)
    events = book.order(account, "BTC", "buy", "5", order_id="m")
    # 3 at the ask 100.5 (fee 301.5 * 10 bps = 0.3015), then 2 at the ask moved by 5 bps,
    # 100.55025 (201.1005, fee 0.2011005); average 502.6005 / 5 = 100.5201.
    assert [(f.quantity, f.price, f.fee) for f in fills(events)] == [
        (D("3"), D("100.5"), D("0.3015")), (D("2"), D("100.55025"), D("0.2011005"))]  # fmt: skip
    assert progress(events, "m") == [
        ("accepted", "0", "5", "-"),
        ("partially_filled", "3", "2", "100.5"),
        ("filled", "5", "0", "100.5201"),
    ]
    assert account.cash == D("9496.8968995")


def test_a_marketable_limit_takes_the_ask_then_rests_and_fills_as_trades_go_through_it() -> None:
    book = btc()
    account = book.account(balance="10000")
    book.quote("BTC", **QUOTED)
    events = book.order(account, "BTC", "buy", "5", limit="101", order_id="l")
    assert [(f.quantity, f.price, f.liquidity.value) for f in fills(events)] == [
        (D("3"), D("100.5"), "taker")]  # fmt: skip
    assert progress(events, "l")[-1] == ("partially_filled", "3", "2", "100.5")
    assert account.resting["l"].order.quantity == D("2")
    # A trade of 1 at 100.8 and 0.5 offered at 100.9, both through 101: the larger, 1, fills.
    events = book.tick(account, "BTC", "100.8", size="1", bid="100.7", ask="100.9",
                       ask_size="0.5")  # fmt: skip
    assert [(f.quantity, f.price, f.fee, f.liquidity.value) for f in fills(events)] == [
        (D("1"), D("101"), D("0.0202"), "maker")]  # fmt: skip
    assert progress(events, "l") == [("partially_filled", "4", "1", "100.625")]
    # A trade without a size: the last-price model, all of it.
    events = book.tick(account, "BTC", "100.95")
    assert progress(events, "l") == [("filled", "5", "0", "100.7")]
    # 10 000 - 301.8015 - 101.0202 - 101.0202
    assert account.cash == D("9496.1581")
    assert account.positions["BTC"].quantity == D("5") and not account.resting


def test_fok_needs_all_of_it_quoted_and_ioc_takes_what_is() -> None:
    book = btc()
    account = book.account(balance="10000")
    book.quote("BTC", **QUOTED)
    events = book.order(account, "BTC", "buy", "5", limit="101", tif="fok", order_id="f")
    assert not fills(events)
    assert progress(events, "f") == [("accepted", "0", "5", "-"), ("cancelled", "0", "0", "-")]
    assert events[-1].detail == "fok: only 3 of 5 available on arrival"  # type: ignore[union-attr]
    events = book.order(account, "BTC", "buy", "5", limit="101", tif="ioc", order_id="i")
    assert [(f.quantity, f.price) for f in fills(events)] == [(D("3"), D("100.5"))]
    assert progress(events, "i")[-2:] == [
        ("partially_filled", "3", "2", "100.5"), ("cancelled", "3", "0", "100.5")]  # fmt: skip
    assert events[-1].detail == "ioc: 2 not filled on arrival"  # type: ignore[union-attr]
    assert not account.resting


def test_post_only_is_judged_against_the_quote() -> None:
    book = btc()
    account = book.account(balance="10000")
    book.prices["BTC"] = D("101")
    book.quote("BTC", bid="100.3", ask="100.4")
    # The last trade is above the limit, but 100.4 is offered: a buy at 100.5 would take it.
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100.5", post_only=True)) == [
        ("rejected", "POST_ONLY_WOULD_TAKE")]  # fmt: skip
    book.quote("BTC")
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100.5", post_only=True)) == [
        ("accepted", None)]  # fmt: skip


def test_a_sell_stop_triggers_on_the_bid_and_sells_at_it() -> None:
    book = btc(slippage="0")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "2")  # 2 at 100
    book.order(account, "BTC", "sell", "2", order_type="stop_market", trigger="95",
               order_id="stop")  # fmt: skip
    assert not book.tick(account, "BTC", "96")
    events = book.tick(account, "BTC", "96", bid="94.9", ask="95.1")
    assert [e for e, _ in statuses(events)] == ["triggered", "filled"]
    # The bid, 94.9, is at or below 95 (the last, 96, is not): sold at the bid, no size given
    # and no slippage; fee 189.8 * 10 bps.
    assert [(f.quantity, f.price, f.fee) for f in fills(events)] == [
        (D("2"), D("94.9"), D("0.1898"))]  # fmt: skip


def test_no_shares_trade_against_the_other_side_of_the_yes_quote() -> None:
    book = Book(prediction("PRES", taker="100", maker="0", slippage="0"))
    book.prices["PRES"] = D("0.41")
    account = book.account(balance="100")
    book.quote("PRES", bid="0.40", ask="0.42", bid_size="10", ask_size="4")
    events = book.order(account, "PRES", "buy", "15", outcome="no", order_id="n")
    # Buying NO sells YES: 10 quoted at 1 - 0.40 = 0.60, and beyond it the same price without
    # slippage: one fill of 15 at 0.6, fee 9 * 1 %.
    assert [(f.quantity, f.price, f.fee) for f in fills(events)] == [
        (D("15"), D("0.6"), D("0.09"))]  # fmt: skip
    events = book.order(account, "PRES", "sell", "15", outcome="no")
    # Selling NO buys YES at the ask: 1 - 0.42 = 0.58; 8.7 less 9 realized, fee 0.087.
    assert [(f.price, f.realized_pnl, f.fee) for f in fills(events)] == [
        (D("0.58"), D("-0.3"), D("0.087"))]  # fmt: skip


def test_a_bracket_follows_its_entry_fill_by_fill_and_ends_with_its_exit() -> None:
    book = btc(slippage="0")
    book.prices["BTC"] = D("101")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "4", limit="100", take_profit="110", stop_loss="90",
               order_id="e")  # fmt: skip
    events = book.tick(account, "BTC", "99.9", size="1")
    assert progress(events, "e") == [("partially_filled", "1", "3", "100")]
    assert progress(events, "~sl-e") == progress(events, "~tp-e") == [("accepted", "0", "1", "-")]
    events = book.tick(account, "BTC", "99", size="2")
    assert progress(events, "e") == [("partially_filled", "3", "1", "100")]
    assert progress(events, "~sl-e") == progress(events, "~tp-e") == [("replaced", "0", "3", "-")]
    # The take-profit sells 2 of 3 at 110: the stop-loss now protects the 1 left.
    events = book.tick(account, "BTC", "110", size="2")
    assert progress(events, "~tp-e") == [("partially_filled", "2", "1", "110")]
    assert progress(events, "~sl-e") == [("replaced", "0", "1", "-")]
    # The rest of the take-profit closes the trade: the stop-loss, and the entry's unfilled 1,
    # end with it.
    events = book.tick(account, "BTC", "111")
    assert progress(events, "~tp-e") == [("filled", "3", "0", "110")]
    assert progress(events, "~sl-e") == [("cancelled", "0", "0", "-")]
    assert progress(events, "e") == [("cancelled", "3", "0", "100")]
    assert not account.positions and not account.resting
    # 3 bought at 100 (maker fees 0.02 + 0.04), 3 sold at 110 (0.044 + 0.022).
    assert account.cash == D("10029.874")
    # The exits existed and have ended; an exit of an entry never placed is unknown.
    assert statuses(book.cancel(account, "~sl-e")) == [("cancel_rejected", "ORDER_CLOSED")]
    assert statuses(book.cancel(account, "~sl-x")) == [("cancel_rejected", "UNKNOWN_ORDER")]


def test_an_accounts_limits_share_what_trades_best_price_first() -> None:
    book = btc(slippage="0")
    book.prices["BTC"] = D("102")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "2", limit="100", order_id="low")
    book.order(account, "BTC", "buy", "2", limit="101", order_id="high")
    events = book.tick(account, "BTC", "99", size="3")
    assert [(f.order_id, f.quantity, f.price) for f in fills(events)] == [
        ("high", D("2"), D("101")), ("low", D("1"), D("100"))]  # fmt: skip
    assert progress(events, "low") == [("partially_filled", "1", "1", "100")]


def test_a_partly_filled_order_is_replaced_by_its_whole_quantity_and_cancelled_with_its_fills() -> (
    None
):
    book = btc(slippage="0")
    book.prices["BTC"] = D("102")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "2", limit="100", order_id="o")
    book.tick(account, "BTC", "99", size="1")
    book.tick(account, "BTC", "102")
    events = book.replace(account, "o", quantity="1")
    assert statuses(events) == [("replace_rejected", "INVALID_ORDER")]
    assert events[0].detail == "quantity 1 is not above the 1 already filled"  # type: ignore[union-attr]
    events = book.replace(account, "o", quantity="5")
    assert progress(events, "o") == [("replaced", "1", "4", "100")]
    assert events[0].detail == "quantity 2 -> 5"  # type: ignore[union-attr]
    assert account.resting["o"].order.quantity == D("4")
    assert progress(book.cancel(account, "o"), "o") == [("cancelled", "1", "0", "100")]
    position = account.positions["BTC"]
    assert (position.quantity, position.cost) == (D("1"), D("100"))
