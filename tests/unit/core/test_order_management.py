"""Cancel, replace and time in force in the pure core: hand-computed scenarios."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fillstream.core.events import OrderEvent
from fillstream.core.model import Session
from tests.unit.core.scenario import T0, Book, D, crypto, fills, statuses


def book_at(price: str = "110") -> Book:
    book = Book(crypto("BTC", taker="10", maker="2", slippage="0"))
    book.prices["BTC"] = D(price)
    return book


def test_a_cancelled_order_stops_resting() -> None:
    book = book_at()
    account = book.account(balance="1000")
    assert statuses(book.order(account, "BTC", "buy", "5", limit="100", order_id="b1")) == [
        ("accepted", None)]  # fmt: skip
    (cancelled,) = book.cancel(account, "b1")
    assert isinstance(cancelled, OrderEvent)
    assert (cancelled.status, cancelled.detail) == ("cancelled", "cancelled by the trader")
    assert account.resting == {}
    assert fills(book.tick(account, "BTC", "99")) == []


def test_a_cancel_says_why_it_was_refused() -> None:
    book = book_at()
    account = book.account(balance="1000")
    book.order(account, "BTC", "buy", "1", order_id="m1")  # a market order: filled at once
    book.order(account, "BTC", "buy", "1", limit="100", order_id="b1")
    book.cancel(account, "b1")
    assert statuses(book.cancel(account, "nope")) == [("cancel_rejected", "UNKNOWN_ORDER")]
    assert statuses(book.cancel(account, "m1")) == [("cancel_rejected", "ORDER_CLOSED")]
    assert statuses(book.cancel(account, "b1")) == [("cancel_rejected", "ORDER_CLOSED")]
    assert statuses(book.cancel(None, "b1")) == [("cancel_rejected", "UNKNOWN_ACCOUNT")]


def test_a_replace_is_checked_like_a_new_order_and_refused_leaves_the_order_as_it_was() -> None:
    book = book_at()
    account = book.account(balance="1000", max_order_pct="1000")
    book.order(account, "BTC", "buy", "5", limit="100", order_id="b1")
    # 20 at 100 = 2000 committed against buying power 1000 (equity 1000, leverage 1).
    assert statuses(book.replace(account, "b1", quantity="20")) == [
        ("replace_rejected", "INSUFFICIENT_FUNDS")]  # fmt: skip
    assert account.resting["b1"].order.quantity == D(5)
    (replaced,) = book.replace(account, "b1", quantity="8")
    assert isinstance(replaced, OrderEvent)
    assert (replaced.status, replaced.detail) == ("replaced", "quantity 5 -> 8")
    assert account.resting["b1"].order.quantity == D(8)
    # 8 at 100 = 800, maker fee 800 * 2 / 10 000 = 0.16, when the tick trades through it.
    (fill,) = fills(book.tick(account, "BTC", "100"))
    assert (fill.order_id, fill.quantity, fill.price, fill.fee) == ("b1", D(8), D(100), D("0.16"))


def test_a_replace_that_makes_the_order_marketable_fills_it_as_a_taker() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    book.order(account, "BTC", "buy", "5", limit="100", order_id="b1")
    events = book.replace(account, "b1", limit="115")
    assert statuses(events) == [("replaced", None), ("filled", None)]
    (fill,) = fills(events)
    # At the last price 110 (no slippage): 550, taker fee 0.55; cash 1000 - 550.55.
    assert (fill.price, fill.fee, fill.cash_after) == (D(110), D("0.55"), D("449.45"))
    assert account.resting == {}


def test_ioc_and_fok_never_rest() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    for tif in ("ioc", "fok"):
        events = book.order(account, "BTC", "buy", "1", limit="100", tif=tif)
        assert statuses(events) == [("accepted", None), ("cancelled", None)]
        assert events[-1].detail == f"{tif}: not marketable on arrival"
    assert account.resting == {}
    filled = book.order(account, "BTC", "buy", "1", limit="120", tif="ioc")
    assert statuses(filled) == [("accepted", None), ("filled", None)]


def test_an_ioc_order_is_checked_as_if_it_rested() -> None:
    """The same answer as the order good till cancelled would get: 20 at 100 = 2000 is more
    than buying power 1000, marketable or not (found by the risk-invariant machine)."""
    book = book_at("110")
    account = book.account(balance="1000", max_order_pct="1000")
    assert statuses(book.order(account, "BTC", "buy", "20", limit="100", tif="ioc")) == [
        ("rejected", "INSUFFICIENT_FUNDS")]  # fmt: skip


def test_a_gtd_order_expires_at_the_first_tick_at_or_after_its_time_before_filling() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    expire_at = T0 + timedelta(seconds=4)
    book.order(
        account, "BTC", "buy", "1", limit="100", order_id="g1", tif="gtd", expire_at=expire_at
    )  # fmt: skip  (at T0 + 1 s)
    assert book.tick(account, "BTC", "105") == []  # T0 + 2 s
    assert book.tick(account, "BTC", "104") == []  # T0 + 3 s
    events = book.tick(account, "BTC", "99")  # T0 + 4 s: through the limit, but expired first
    assert statuses(events) == [("expired", None)]
    assert events[0].detail == "expired at 2026-01-01T00:00:04+00:00"
    assert fills(events) == [] and account.resting == {}


def test_an_expired_order_ends_at_the_accounts_next_order_too() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    book.order(account, "BTC", "buy", "1", limit="100", order_id="g1", tif="gtd",
               expire_at=T0 + timedelta(seconds=2))  # fmt: skip
    events = book.order(account, "BTC", "buy", "1", limit="101", order_id="b2")  # T0 + 2 s
    assert [(e.order_id, e.status) for e in events if isinstance(e, OrderEvent)] == [
        ("g1", "expired"), ("b2", "accepted")]  # fmt: skip


def test_time_in_force_that_cannot_work_is_refused() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    past = T0
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100", tif="gtd",
                               expire_at=past)) == [("rejected", "INVALID_ORDER")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100", tif="gtd")) == [
        ("rejected", "INVALID_ORDER")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1", limit="100",
                               expire_at=T0 + timedelta(days=1))) == [
        ("rejected", "INVALID_ORDER")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1", tif="day")) == [
        ("rejected", "INVALID_ORDER")]  # fmt: skip


def test_a_day_order_ends_at_the_session_close_across_a_daylight_saving_change() -> None:
    """New York closes at 17:00; clocks go forward on Sunday 8 March 2026. An order placed on
    Saturday at 18:00 EST (23:00 UTC) ends on Sunday at 17:00 EDT, 21:00 UTC: 22 hours later,
    not 24."""
    book = book_at("110")
    account = book.account(balance="1000")
    new_york = Session(ZoneInfo("America/New_York"), time(17))
    book.clock = datetime(2026, 3, 7, 22, 59, 59, tzinfo=UTC)  # the order is placed 1 s later
    book.order(account, "BTC", "buy", "1", limit="100", order_id="d1", tif="day",
               session=new_york)  # fmt: skip
    assert account.resting["d1"].order.expire_at == datetime(2026, 3, 8, 21, tzinfo=UTC)
    book.clock = datetime(2026, 3, 8, 20, 59, 58, tzinfo=UTC)
    assert book.tick(account, "BTC", "105") == []  # 20:59:59
    assert statuses(book.tick(account, "BTC", "105")) == [("expired", None)]  # 21:00:00


def test_post_only_rests_or_is_rejected_never_takes() -> None:
    book = book_at("110")
    account = book.account(balance="1000")
    assert statuses(book.order(account, "BTC", "buy", "1", limit="111", post_only=True)) == [
        ("rejected", "POST_ONLY_WOULD_TAKE")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1", post_only=True)) == [
        ("rejected", "INVALID_ORDER")]  # fmt: skip
    book.order(account, "BTC", "buy", "1", limit="100", order_id="p1", post_only=True)
    assert statuses(book.replace(account, "p1", limit="115")) == [
        ("replace_rejected", "POST_ONLY_WOULD_TAKE")]  # fmt: skip
    (fill,) = fills(book.tick(account, "BTC", "100"))
    assert (fill.order_id, fill.liquidity, fill.fee) == ("p1", "maker", D("0.02"))


def test_reduce_only_never_grows_and_shrinks_with_the_position() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "5")  # long 5
    assert statuses(book.order(account, "BTC", "buy", "1", limit="90", reduce_only=True)) == [
        ("rejected", "REDUCE_ONLY_WOULD_INCREASE")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "sell", "6", limit="120", reduce_only=True)) == [
        ("rejected", "REDUCE_ONLY_WOULD_INCREASE")]  # fmt: skip
    book.order(account, "BTC", "sell", "3", limit="120", order_id="tp", reduce_only=True)
    # Another order sells 4 of the 5: the take-profit can only close the 1 left.
    events = book.order(account, "BTC", "sell", "4")
    shrunk = [e for e in events if isinstance(e, OrderEvent) and e.order_id == "tp"]
    assert [(e.status, e.detail) for e in shrunk] == [
        ("replaced", "reduce_only: quantity 3 -> 1, the position shrank")]  # fmt: skip
    assert account.resting["tp"].order.quantity == D(1)
    events = book.order(account, "BTC", "sell", "1")  # flat: nothing left to close
    ended = [e for e in events if isinstance(e, OrderEvent) and e.order_id == "tp"]
    assert [(e.status, e.detail) for e in ended] == [
        ("cancelled", "reduce_only: nothing left to close")]  # fmt: skip
    assert account.resting == {}
