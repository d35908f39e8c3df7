"""Prediction markets resolving through the real broker and a worker process: every holder paid
out in exact cash, resting orders ended, the market closed, bad resolutions dead-lettered."""

from __future__ import annotations

from pathlib import Path

from tests.pipeline import Pipeline


async def test_resolutions_pay_out_every_holder_and_close_the_market(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        for symbol in ("PRES", "MAYOR"):
            await p.instrument(symbol, kind="prediction", taker_fee_bps="100")
        await p.instrument("BTC")
        await p.account("ann", "100")
        await p.account("bob", "100")
        await p.tick("PRES", "0.4")
        await p.tick("MAYOR", "0.25")
        await p.tick("BTC", "100")
        await p.order("ann", "a1", "PRES", "buy", "10", outcome="yes")  # 4, fee 0.04
        await p.order("ann", "a2", "PRES", "buy", "5", outcome="yes", limit_price="0.3")
        await p.order("ann", "a3", "MAYOR", "buy", "4", outcome="yes")  # 1, fee 0.01
        await p.order("bob", "b1", "PRES", "buy", "5", outcome="no")  # 3, fee 0.03
        await p.wait_for(lambda o: {"a1", "a3", "b1"} <= {f["order_id"] for f in o["fills"]})
        # Resolving, the market trades at its bound: accepted, and nothing trades at it.
        await p.tick("PRES", "1")

        await p.send("resolutions", "PRES", {"symbol": "PRES", "result": "yes"})
        await p.send("resolutions", "MAYOR", {"symbol": "MAYOR", "result": "void"})
        await p.send("resolutions", "BTC", {"symbol": "BTC", "result": "yes"})
        await p.send("resolutions", "PRES", {"symbol": "PRES", "result": "no"})
        outputs = await p.wait_for(
            lambda o: (
                sum(f["liquidity"] == "settlement" for f in o["fills"]) == 3
                and len(o["dead_letters"]) == 2
            )
        )
        settled = [
            (f["account_id"], f["symbol"], f["outcome"], f["quantity"], f["price"], f["fee"],
             f["realized_pnl"], f["cash_after"])
            for f in outputs["fills"] if f["liquidity"] == "settlement"
        ]  # fmt: skip
        assert sorted(settled) == [
            # 100 - 4.04 - 1.01 + 10, then + 4 x 0.25 back at cost
            ("ann", "MAYOR", "yes", "4", "0.25", "0", "0", "105.95"),
            ("ann", "PRES", "yes", "10", "1", "0", "6", "104.95"),
            # 100 - 3.03, the NO shares worth nothing
            ("bob", "PRES", "no", "5", "0", "0", "-3", "96.97"),
        ]
        assert {f["order_id"] for f in outputs["fills"] if f["liquidity"] == "settlement"} == {
            "~settlement-PRES", "~settlement-MAYOR"}  # fmt: skip
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a2")] == [
            ("accepted", None), ("cancelled", "MARKET_RESOLVED")]  # fmt: skip
        assert [d["error"] for d in outputs["dead_letters"]] == [
            "'BTC' is not a known prediction market",
            "'PRES' has already resolved yes: a resolution is final",
        ]
        for account_id, cash in (("ann", "105.95"), ("bob", "96.97")):
            view = p.api("GET", f"/accounts/{account_id}")[1]
            assert (view["cash"], view["positions"], view["resting_orders"]) == (cash, [], [])

        await p.order("bob", "b2", "PRES", "buy", "1", outcome="yes")
        assert [(e["status"], e.get("reason")) for e in await p.order_events("b2")] == [
            ("rejected", "MARKET_RESOLVED")]  # fmt: skip
