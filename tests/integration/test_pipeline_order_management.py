"""Cancel, replace and time in force through the real broker, a worker process and its API."""

from __future__ import annotations

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
