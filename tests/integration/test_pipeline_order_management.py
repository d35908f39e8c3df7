"""Cancel, replace and time in force through the real broker, a worker process and its API."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from fillstream.wire.times import format_time, parse_time
from tests.pipeline import Pipeline


async def test_replace_cancel_ioc_and_expiry(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC", taker_fee_bps="10", maker_fee_bps="2")
        await p.account("alice", "10000")
        await p.tick("BTC", "100")

        # A resting bid moved up by the API, then filled at its new limit as a maker.
        await p.order("alice", "b1", "BTC", "buy", "10", limit_price="90")
        await p.wait_for(lambda o: any(e["order_id"] == "b1" for e in o["order_events"]))
        status, body = p.api("PATCH", "/accounts/alice/orders/b1", b'{"limit_price": "95"}')
        assert (status, body["action"]) == (202, "replace")
        await p.wait_for(lambda o: any(e["status"] == "replaced" for e in o["order_events"]))
        (resting,) = p.api("GET", "/accounts/alice")[1]["resting_orders"]
        assert (resting["limit_price"], resting["time_in_force"]) == ("95", "gtc")
        filled_at = await p.tick("BTC", "94")
        events = await p.order_events("b1")
        assert [(e["status"], e.get("detail")) for e in events] == [
            ("accepted", None), ("replaced", "limit_price 90 -> 95"), ("filled", None)]  # fmt: skip
        (fill,) = p.fills_of("b1")
        # 10 at 95 = 950, maker fee 950 * 2 / 10 000 = 0.19: cash 10 000 - 950.19
        assert (fill["price"], fill["fee"], fill["cash_after"]) == ("95", "0.19", "9049.81")

        # Cancelled by the API; a second cancel is refused; nothing fills afterwards.
        await p.order("alice", "s1", "BTC", "sell", "5", limit_price="130")
        await p.wait_for(lambda o: any(e["order_id"] == "s1" for e in o["order_events"]))
        assert p.api("DELETE", "/accounts/alice/orders/s1")[0] == 202
        assert [e["status"] for e in await p.order_events("s1")] == ["accepted", "cancelled"]
        assert p.api("DELETE", "/accounts/alice/orders/s1")[0] == 202
        refused = await p.wait_for(
            lambda o: any(e["status"] == "cancel_rejected" for e in o["order_events"])
        )
        (rejection,) = [e for e in refused["order_events"] if e["status"] == "cancel_rejected"]
        assert (rejection["order_id"], rejection["reason"]) == ("s1", "ORDER_CLOSED")

        # IOC below the market: never rests.
        await p.order("alice", "i1", "BTC", "buy", "1", limit_price="80", time_in_force="ioc")
        events = await p.order_events("i1")
        assert [(e["status"], e.get("detail")) for e in events] == [
            ("accepted", None), ("cancelled", "ioc: not marketable on arrival")]  # fmt: skip

        # GTD, dated in tick time: expires at the first tick at or after its time, unfilled.
        expire_at = parse_time(filled_at) + timedelta(seconds=3)
        await p.order("alice", "g1", "BTC", "sell", "5", limit_price="110", time_in_force="gtd",
                      expire_at=format_time(expire_at), ts=filled_at)  # fmt: skip
        await p.wait_for(lambda o: any(e["order_id"] == "g1" for e in o["order_events"]))
        await p.tick("BTC", "105")  # 1 s later
        await p.tick("BTC", "106")  # 2 s
        await p.tick("BTC", "111")  # 3 s: through the limit, but its time has come
        events = await p.order_events("g1")
        assert [(e["status"], e.get("detail")) for e in events] == [
            ("accepted", None), ("expired", f"expired at {expire_at.isoformat()}")]  # fmt: skip
        assert p.fills_of("g1") == []
        assert json.dumps(p.outputs()["dead_letters"]) == "[]"


async def test_stop_loss_on_a_gap_and_a_trailing_stop(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("ETH", taker_fee_bps="10", slippage_bps="10")
        await p.account("bob", "10000")
        await p.tick("ETH", "100")
        await p.order("bob", "long", "ETH", "buy", "10")
        await p.order_events("long")
        await p.order("bob", "sl", "ETH", "sell", "4", type="stop_market", trigger_price="95",
                      reduce_only=True)  # fmt: skip
        await p.order("bob", "ts", "ETH", "sell", "6", type="trailing_stop_market",
                      trailing_offset="5", reduce_only=True)  # fmt: skip
        await p.wait_for(lambda o: {"sl", "ts"} <= {e["order_id"] for e in o["order_events"]})
        await p.tick("ETH", "110")  # the trailing stop's trigger follows up to 105
        (ts,) = [o for o in p.api("GET", "/accounts/bob")[1]["resting_orders"]
                 if o["order_id"] == "ts"]  # fmt: skip
        assert ts["trigger_price"] == "105"
        await p.tick("ETH", "104")  # retraced through 105: the trailing stop sells 6
        events = await p.order_events("ts")
        assert [e["status"] for e in events] == ["accepted", "triggered", "filled"]
        (fill,) = p.fills_of("ts")
        # 104 less 10 bps: 103.896; 6 of them 623.376, fee 0.623376
        assert (fill["price"], fill["fee"], fill["position_quantity"]) == (
            "103.896",
            "0.623376",
            "4",
        )
        await p.tick("ETH", "90")  # gaps through the stop at 95: sells the last 4 at the market
        events = await p.order_events("sl")
        assert [e["status"] for e in events] == ["accepted", "triggered", "filled"]
        (fill,) = p.fills_of("sl")
        # 90 less 10 bps: 89.91, not 95
        assert (Decimal(fill["price"]), fill["position_quantity"]) == (Decimal("89.91"), "0")

        # A bracket: buy 3 at the market with a take-profit at 95 and a stop-loss at 85.
        await p.order("bob", "br", "ETH", "buy", "3", take_profit_price="95",
                      stop_loss_price="85")  # fmt: skip
        await p.order_events("br")
        await p.wait_for(lambda o: {"~sl-br", "~tp-br"} <= {e["order_id"]
                                                          for e in o["order_events"]})  # fmt: skip
        await p.tick("ETH", "96")  # through the take-profit: it fills, the stop-loss ends
        assert [e["status"] for e in await p.order_events("~tp-br")] == ["accepted", "filled"]
        sl = await p.order_events("~sl-br")
        assert [(e["status"], e.get("detail")) for e in sl] == [
            ("accepted", "bracket of br"), ("cancelled", "oco: ~tp-br filled")]  # fmt: skip
        (fill,) = p.fills_of("~tp-br")
        assert (fill["price"], fill["liquidity"], fill["position_quantity"]) == ("95", "maker", "0")


async def test_quotes_fill_in_parts_and_a_bracket_follows_its_entry(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC", taker_fee_bps="10", maker_fee_bps="2")
        await p.account("carol", "10000")
        await p.tick("BTC", "101", bid="100.4", ask="100.5", ask_size="3")

        # A limit through the ask takes the 3 quoted there, and rests the other 2 at 101.
        await p.order("carol", "q1", "BTC", "buy", "5", limit_price="101")
        await p.wait_for(lambda o: any(e["order_id"] == "q1" and e["status"] ==
                                       "partially_filled" for e in o["order_events"]))  # fmt: skip
        (resting,) = p.api("GET", "/accounts/carol")[1]["resting_orders"]
        assert {k: resting[k] for k in ("status", "quantity", "filled_quantity",
                                        "leaves_quantity", "avg_price")} == {
            "status": "partially_filled", "quantity": "5", "filled_quantity": "3",
            "leaves_quantity": "2", "avg_price": "100.5"}  # fmt: skip
        # A trade of 1.5 through 101 fills 1.5 of the rest; a trade without a size, the last 0.5.
        await p.tick("BTC", "100.9", size="1.5")
        await p.tick("BTC", "100.8")
        events = await p.order_events("q1")
        assert [(e["status"], e["filled_quantity"], e["leaves_quantity"], e.get("avg_price"))
                for e in events] == [
            ("accepted", "0", "5", None),
            ("partially_filled", "3", "2", "100.5"),
            # (301.5 + 151.5) / 4.5 = 100.6666... to 18 places
            ("partially_filled", "4.5", "0.5", "100.666666666666666667"),
            ("filled", "5", "0", "100.7"),
        ]  # fmt: skip
        fills = [(f["quantity"], f["price"], f["fee"], f["liquidity"]) for f in p.fills_of("q1")]
        assert fills == [("3", "100.5", "0.3015", "taker"), ("1.5", "101", "0.0303", "maker"),
                         ("0.5", "101", "0.0101", "maker")]  # fmt: skip

        # A bracket whose entry fills 1 of 2 from a trade's size: its exits cover the 1; the
        # second fill grows them to 2. The stop-loss triggers on the bid and sells at it.
        await p.order("carol", "b1", "BTC", "buy", "2", limit_price="100",
                      take_profit_price="110", stop_loss_price="95")  # fmt: skip
        await p.wait_for(lambda o: any(e["order_id"] == "b1" for e in o["order_events"]))
        await p.tick("BTC", "99.5", size="1")
        await p.tick("BTC", "99.8", size="1")
        await p.tick("BTC", "96", bid="94.9", ask="96.1")
        events = await p.order_events("~sl-b1")
        assert [(e["status"], e["leaves_quantity"]) for e in events] == [
            ("accepted", "1"), ("replaced", "2"), ("triggered", "2"), ("filled", "0")]  # fmt: skip
        (stop_fill,) = p.fills_of("~sl-b1")
        # 2 at the bid, 94.9 (no slippage): fee 189.8 * 10 bps
        assert (stop_fill["price"], stop_fill["fee"], stop_fill["position_quantity"]) == (
            "94.9", "0.1898", "5")  # fmt: skip
        assert [e["status"] for e in await p.order_events("~tp-b1")] == [
            "accepted", "replaced", "cancelled"]  # fmt: skip
        assert [(e["status"], e["filled_quantity"], e.get("avg_price"))
                for e in await p.order_events("b1")] == [
            ("accepted", "0", None), ("partially_filled", "1", "100"),
            ("filled", "2", "100")]  # fmt: skip


async def test_flags_fok_day_expiry_reservations_and_a_cancel_racing_a_fill(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    new_york = {"session_timezone": "America/New_York", "session_close": "17:00"}
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "log", **new_york) as p:
        await p.instrument("ETH")
        await p.instrument("BTC")
        await p.account("dan", "10000")
        await p.account("erin", "1000")
        await p.tick("ETH", "100", bid="99.9", ask="100.1", ask_size="2")

        # Post-only through the ask: refused. FOK for 5 with 2 offered: nothing fills.
        await p.order("dan", "po", "ETH", "buy", "1", limit_price="100.1", post_only=True)
        await p.order("dan", "fok", "ETH", "buy", "5", limit_price="100.2", time_in_force="fok")
        await p.wait_for(lambda o: {"po", "fok"} <= {e["order_id"] for e in o["order_events"]})
        assert [(e["status"], e.get("reason")) for e in await p.order_events("po")] == [
            ("rejected", "POST_ONLY_WOULD_TAKE")]  # fmt: skip
        assert [(e["status"], e.get("detail")) for e in await p.order_events("fok")] == [
            ("accepted", None), ("cancelled", "fok: only 2 of 5 available on arrival")]  # fmt: skip
        assert p.fills_of("fok") == []

        # A reduce-only take-profit shrinks when another fill reduces the position.
        await p.order("dan", "buy", "ETH", "buy", "4")  # 2 at the ask, 2 beyond: all at 100.1
        await p.wait_for(lambda o: any(e["order_id"] == "buy" and e["status"] == "filled"
                                       for e in o["order_events"]))  # fmt: skip
        await p.order("dan", "tp", "ETH", "sell", "4", limit_price="110", reduce_only=True)
        await p.order("dan", "out", "ETH", "sell", "3")
        await p.wait_for(lambda o: any(e["order_id"] == "tp" and e["status"] == "replaced"
                                       for e in o["order_events"]))  # fmt: skip
        assert [(e["status"], e["leaves_quantity"], e.get("detail"))
                for e in await p.order_events("tp", terminal=0)] == [
            ("accepted", "4", None),
            ("replaced", "1",
             "reduce_only: open quantity 4 -> 1, the position shrank")]  # fmt: skip
        (sold,) = p.fills_of("out")
        assert (sold["price"], sold["position_quantity"]) == ("99.9", "1")  # at the bid

        # A replace changes what the order reserves: 8 at 90 leave no room for 4 more (1 080 >
        # 1 000); cut to 5 they do; back to 8 is refused, and the order keeps its 5.
        await p.order("erin", "e1", "ETH", "buy", "8", limit_price="90")
        await p.order("erin", "e2", "ETH", "buy", "4", limit_price="90")
        await p.wait_for(lambda o: {"e1", "e2"} <= {e["order_id"] for e in o["order_events"]})
        assert [e.get("reason") for e in await p.order_events("e2")] == ["INSUFFICIENT_FUNDS"]
        assert p.api("PATCH", "/accounts/erin/orders/e1", b'{"quantity": "5"}')[0] == 202
        await p.wait_for(lambda o: any(e["order_id"] == "e1" and e["status"] == "replaced"
                                       for e in o["order_events"]))  # fmt: skip
        await p.order("erin", "e3", "ETH", "buy", "4", limit_price="90")
        assert p.api("PATCH", "/accounts/erin/orders/e1", b'{"quantity": "8"}')[0] == 202
        await p.wait_for(lambda o: any(e["order_id"] == "e1" and e["status"] == "replace_rejected"
                                       for e in o["order_events"]))  # fmt: skip
        assert [(e["status"], e.get("reason")) for e in await p.order_events("e3", terminal=0)] == [
            ("accepted", None)]  # fmt: skip
        assert [(e["status"], e.get("reason"), e.get("leaves_quantity"))
                for e in await p.order_events("e1", terminal=0)] == [
            ("accepted", None, "8"), ("replaced", None, "5"),
            ("replace_rejected", "INSUFFICIENT_FUNDS", None)]  # fmt: skip

        # A cancel racing the tick that fills the order: either wins, and the other knows it.
        await asyncio.gather(
            p.tick("ETH", "89"),
            p.send("orders", "erin", {"action": "cancel", "order_id": "e3", "account_id": "erin"}),
        )
        await p.wait_for(lambda o: sum(e["order_id"] == "e3" and e["status"] in (
            "cancelled", "cancel_rejected") for e in o["order_events"]) == 1)  # fmt: skip
        statuses = [e["status"] for e in await p.order_events("e3")]
        if statuses[1] == "filled":
            assert statuses == ["accepted", "filled", "cancel_rejected"]
            assert [f["quantity"] for f in p.fills_of("e3")] == ["4"]
        else:
            assert statuses == ["accepted", "cancelled"] and p.fills_of("e3") == []

        # DAY ends at 17:00 New York. Placed Saturday 7 March at 17:30 EST (22:30 UTC), it lasts
        # until Sunday's close, which daylight saving moves to 21:00 UTC (17:00 EDT).
        placed = await p.tick("BTC", "100", after=parse_time("2026-03-07T22:30:00Z") - p.tick_time)
        await p.order("dan", "day", "BTC", "buy", "1", limit_price="90", time_in_force="day",
                      ts=placed)  # fmt: skip
        await p.wait_for(lambda o: any(e["order_id"] == "day" for e in o["order_events"]))
        await p.tick("BTC", "95", after=parse_time("2026-03-08T20:59:59Z") - p.tick_time)
        # Still open a second before (the state the tick left, read back through the API).
        resting = p.api("GET", "/accounts/dan")[1]["resting_orders"]
        assert "day" in {order["order_id"] for order in resting}
        await p.tick("BTC", "95")  # 21:00:00 UTC
        assert [(e["status"], e.get("detail")) for e in await p.order_events("day")] == [
            ("accepted", None), ("expired", "expired at 2026-03-08T21:00:00+00:00")]  # fmt: skip
