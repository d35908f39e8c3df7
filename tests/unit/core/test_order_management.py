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
        ("replaced", "reduce_only: open quantity 3 -> 1, the position shrank")]  # fmt: skip
    assert account.resting["tp"].order.quantity == D(1)
    events = book.order(account, "BTC", "sell", "1")  # flat: nothing left to close
    ended = [e for e in events if isinstance(e, OrderEvent) and e.order_id == "tp"]
    assert [(e.status, e.detail) for e in ended] == [
        ("cancelled", "reduce_only: nothing left to close")]  # fmt: skip
    assert account.resting == {}


def lifecycle(events: list, order_id: str) -> list[tuple[str, str | None]]:
    return [(e.status.value, e.detail) for e in events
            if isinstance(e, OrderEvent) and e.order_id == order_id]  # fmt: skip


def test_a_stop_that_triggers_on_a_gap_fills_at_the_market_after_the_gap() -> None:
    """A sell stop at 95 under a long: the price gaps from 100 to 90; it fills at 90 (less the
    slippage), not at 95."""
    book = Book(crypto("BTC", taker="10", maker="2", slippage="10"))
    book.prices["BTC"] = D("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "10")
    placed = book.order(account, "BTC", "sell", "10", order_id="sl", order_type="stop_market",
                        trigger="95", reduce_only=True)  # fmt: skip
    assert statuses(placed) == [("accepted", None)]
    assert book.tick(account, "BTC", "96") == []
    events = book.tick(account, "BTC", "90")
    assert lifecycle(events, "sl") == [
        ("triggered", "trigger_price 95 reached at 90"), ("filled", None)]  # fmt: skip
    (fill,) = fills(events)
    # 90 less 10 bps of slippage: 89.91; 10 of them = 899.1, taker fee 0.8991
    assert (fill.price, fill.fee, fill.liquidity) == (D("89.91"), D("0.8991"), "taker")
    assert account.positions == {}


def test_a_stop_limit_triggers_then_rests_at_its_limit() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "2", order_id="sbl", order_type="stop_limit",
               trigger="105", limit="106")  # fmt: skip
    events = book.tick(account, "BTC", "108")  # triggers; 108 is above the 106 limit
    assert lifecycle(events, "sbl") == [("triggered", "trigger_price 105 reached at 108")]
    assert account.resting["sbl"].order.type == "limit"
    (fill,) = fills(book.tick(account, "BTC", "106"))
    # Rested after the trigger, so a maker at its limit: 212, fee 212 * 2 / 10 000
    assert (fill.price, fill.fee, fill.liquidity) == (D(106), D("0.0424"), "maker")


def test_if_touched_orders_wait_for_a_better_price() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "1", order_id="mit", order_type="market_if_touched",
               trigger="97")  # fmt: skip
    assert book.tick(account, "BTC", "103") == []  # a buy stop would trigger; this one waits
    events = book.tick(account, "BTC", "97")
    assert lifecycle(events, "mit")[0][0] == "triggered"
    assert fills(events)[0].price == D(97)


def test_a_trailing_stop_follows_a_rise_then_triggers_on_the_retracement() -> None:
    """Sell trailing 5 below the best price: placed at 100 (trigger 95), the price rises to
    110 (trigger 105), falls to 106 (stays 105), then 104: triggered at 105, filled at 104."""
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "1")
    book.order(account, "BTC", "sell", "1", order_id="ts", order_type="trailing_stop_market",
               trailing="5", reduce_only=True)  # fmt: skip
    assert account.resting["ts"].order.trigger_price == D(95)
    for price in ("103", "110", "106"):
        assert book.tick(account, "BTC", price) == []
    assert account.resting["ts"].order.trigger_price == D(105)
    events = book.tick(account, "BTC", "104")
    assert lifecycle(events, "ts") == [
        ("triggered", "trigger_price 105 reached at 104"), ("filled", None)]  # fmt: skip
    assert fills(events)[0].price == D(104)


def test_a_trailing_stop_in_basis_points_trails_to_the_tick() -> None:
    book = Book(crypto("BTC", taker="10", maker="2", slippage="0", tick="0.5"))
    book.prices["BTC"] = D("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "1", order_id="tb", order_type="trailing_stop_market",
               trailing="250", trailing_type="bps")  # fmt: skip
    # 100 + 2.5 % = 102.5; after a fall to 90: 92.25, up to the tick: 92.5
    assert account.resting["tb"].order.trigger_price == D("102.5")
    book.tick(account, "BTC", "90")
    assert account.resting["tb"].order.trigger_price == D("92.5")


def test_a_stop_is_reserved_at_its_trigger_and_checked_again_when_it_triggers() -> None:
    book = book_at("100")
    account = book.account(balance="1000", max_order_pct="1000")
    # 11 at the trigger 101 = 1111 > buying power 1000
    assert statuses(book.order(account, "BTC", "buy", "11", order_type="stop_market",
                               trigger="101")) == [("rejected", "INSUFFICIENT_FUNDS")]  # fmt: skip
    book.order(account, "BTC", "buy", "9", order_id="b", order_type="stop_market", trigger="101")
    # It gaps to 120: 9 at 120 = 1080 is more than the account can carry; cancelled, not filled.
    events = book.tick(account, "BTC", "120")
    assert [s for s, _ in lifecycle(events, "b")] == ["triggered", "cancelled"]
    assert fills(events) == [] and account.resting == {}


def test_waiting_orders_need_their_prices_and_no_crossed_trigger() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    for kind, fields in [
        ("stop_market", {}),
        ("stop_limit", {"trigger": "105"}),
        ("trailing_stop_limit", {"trailing": "5"}),
        ("stop_market", {"trigger": "99"}),  # a buy stop below the market: reached already
        ("market", {"trigger": "105"}),
        ("stop_market", {"trigger": "105", "tif": "ioc"}),
    ]:
        events = book.order(account, "BTC", "buy", "1", order_type=kind, **fields)
        assert statuses(events) == [("rejected", "INVALID_ORDER")], (kind, fields)


def test_a_brackets_exits_wait_for_the_entry_and_the_take_profit_cancels_the_stop_loss() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    placed = book.order(account, "BTC", "buy", "2", limit="95", order_id="e", take_profit="110",
                        stop_loss="90")  # fmt: skip
    assert statuses(placed) == [("accepted", None)]
    assert set(account.resting) == {"e"}  # no exits before the entry fills
    events = book.tick(account, "BTC", "95")
    assert [(e.order_id, e.status.value) for e in events if isinstance(e, OrderEvent)] == [
        ("e", "filled"), ("~sl-e", "accepted"), ("~tp-e", "accepted")]  # fmt: skip
    stop, profit = account.resting["~sl-e"].order, account.resting["~tp-e"].order
    assert (stop.type, stop.side, stop.quantity, stop.trigger_price, stop.reduce_only) == (
        "stop_market", "sell", D(2), D(90), True)  # fmt: skip
    assert (profit.type, profit.limit_price, profit.oco_with) == ("limit", D(110), "~sl-e")
    events = book.tick(account, "BTC", "111")
    assert lifecycle(events, "~tp-e") == [("filled", None)]
    assert lifecycle(events, "~sl-e") == [("cancelled", "oco: ~tp-e filled")]
    (fill,) = fills(events)
    # 2 at the 110 limit as a maker: 220, fee 0.044; the position is closed
    assert (fill.price, fill.fee, fill.position_quantity) == (D(110), D("0.044"), D(0))
    assert account.resting == {} and account.positions == {}


def test_a_brackets_stop_loss_fires_on_a_gap_and_cancels_the_take_profit() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "sell", "1", order_id="short", take_profit="80", stop_loss="105")
    assert set(account.resting) == {"~sl-short", "~tp-short"}  # filled at once: exits placed
    events = book.tick(account, "BTC", "120")
    assert [s for s, _ in lifecycle(events, "~sl-short")] == ["triggered", "filled"]
    assert lifecycle(events, "~tp-short") == [("cancelled", "oco: ~sl-short filled")]
    assert fills(events)[0].price == D(120)  # after the gap, not at 105


def test_oco_links_two_orders_and_a_bad_bracket_is_refused() -> None:
    book = book_at("100")
    account = book.account(balance="10000")
    book.order(account, "BTC", "buy", "1", limit="90", order_id="low")
    book.order(account, "BTC", "sell", "1", limit="110", order_id="high", oco_with="low")
    assert account.resting["low"].order.oco_with == "high"
    events = book.tick(account, "BTC", "89")
    assert lifecycle(events, "high") == [("cancelled", "oco: low filled")]
    assert statuses(book.order(account, "BTC", "buy", "1", oco_with="nope")) == [
        ("rejected", "INVALID_ORDER")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1", take_profit="90",
                               stop_loss="110")) == [("rejected", "INVALID_ORDER")]  # fmt: skip


def test_a_bracket_entry_is_checked_with_its_exits_resting() -> None:
    """Found by the risk-invariant machine. Taker fee 99.99 %, leverage 0.5, cash 1000: buying 3
    at 100 costs 300 + 299.97, leaving equity 700.03 and power 350.015 against the 300 held.
    Its stop-loss at 95 would reserve a taker fee of 284.9715, leaving power 207.52935: the
    bracket is refused, the plain order is not."""
    book = Book(crypto("BTC", taker="9999", maker="0", slippage="0"))
    book.prices["BTC"] = D("100")
    account = book.account(balance="1000", leverage="0.5", max_order_pct="1000")
    bracket = book.order(account, "BTC", "buy", "3", take_profit="105", stop_loss="95")
    assert statuses(bracket) == [("rejected", "INSUFFICIENT_FUNDS")]
    assert statuses(book.order(account, "BTC", "buy", "3")) == [
        ("accepted", None),
        ("filled", None),
    ]
