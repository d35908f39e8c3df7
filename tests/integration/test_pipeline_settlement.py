"""Prediction markets resolving through the real broker and a worker process: every holder paid
out in exact cash, resting orders ended, the market closed, bad resolutions dead-lettered."""

from __future__ import annotations

from pathlib import Path

from tests.pipeline import Pipeline


async def test_resolutions_pay_out_every_holder_and_close_the_market(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        for symbol in ("PRES", "MAYOR", "SENATE", "RAIN"):
            await p.instrument(symbol, kind="prediction", taker_fee_bps="100")
        await p.instrument("BTC")
        await p.account("ann", "100")
        await p.account("bob", "100")
        await p.account("cat", "100")
        await p.tick("PRES", "0.4")
        await p.tick("SENATE", "0.6")
        await p.tick("RAIN", "0.4")
        await p.tick("MAYOR", "0.25")
        await p.tick("BTC", "100")
        await p.order("ann", "a1", "PRES", "buy", "10", outcome="yes")  # 4, fee 0.04
        await p.order("ann", "a2", "PRES", "buy", "5", outcome="yes", limit_price="0.3")
        await p.order("ann", "a3", "MAYOR", "buy", "4", outcome="yes")  # 1, fee 0.01
        await p.order("bob", "b1", "PRES", "buy", "5", outcome="no")  # 3, fee 0.03
        await p.order("cat", "c1", "SENATE", "buy", "5", outcome="yes")  # 3, fee 0.03
        await p.order("cat", "c2", "RAIN", "buy", "10", outcome="no")  # at 0.6: 6, fee 0.06
        await p.wait_for(
            lambda o: {"a1", "a3", "b1", "c1", "c2"} <= {f["order_id"] for f in o["fills"]}
        )
        # Resolving, the market trades at its bound: accepted, and nothing trades at it.
        await p.tick("PRES", "1")

        await p.send("resolutions", "PRES", {"symbol": "PRES", "result": "yes"})
        await p.send("resolutions", "MAYOR", {"symbol": "MAYOR", "result": "void"})
        await p.send("resolutions", "SENATE", {"symbol": "SENATE", "result": "no"})
        await p.send("resolutions", "RAIN", {"symbol": "RAIN", "result": "split",
                                             "yes_payout": "0.3"})  # fmt: skip
        await p.send("resolutions", "BTC", {"symbol": "BTC", "result": "yes"})
        await p.send("resolutions", "PRES", {"symbol": "PRES", "result": "no"})
        outputs = await p.wait_for(
            lambda o: (
                sum(f["liquidity"] == "settlement" for f in o["fills"]) == 5
                and len(o["dead_letters"]) == 2
            )
        )
        payouts = [f for f in outputs["fills"] if f["liquidity"] == "settlement"]
        settled = [
            (f["account_id"], f["symbol"], f["outcome"], f["quantity"], f["price"], f["fee"],
             f["realized_pnl"])
            for f in payouts
        ]  # fmt: skip
        assert sorted(settled) == [
            # ann: the 4 MAYOR shares back at their cost of 0.25; 10 PRES YES paid 1 (cost 4)
            ("ann", "MAYOR", "yes", "4", "0.25", "0", "0"),
            ("ann", "PRES", "yes", "10", "1", "0", "6"),
            # bob: the NO shares worth nothing
            ("bob", "PRES", "no", "5", "0", "0", "-3"),
            # cat: RAIN splits at 0.3 for YES, so each NO pays 0.7: 7 for a cost of 6;
            # SENATE resolves NO: the 5 YES bought for 3 pay nothing.
            ("cat", "RAIN", "no", "10", "0.7", "0", "1"),
            ("cat", "SENATE", "yes", "5", "0", "0", "-3"),
        ]
        # Markets resolve in any order: each account's last payout leaves its exact cash.
        # ann 100 - 4.04 - 1.01 + 10 + 1; bob 100 - 3.03; cat 100 - 3.03 - 6.06 + 7.
        last = {f["account_id"]: f["cash_after"] for f in sorted(
            payouts, key=lambda f: int(f["fill_id"].rpartition("#")[2]))}  # fmt: skip
        assert last == {"ann": "105.95", "bob": "96.97", "cat": "97.91"}
        settled_markets = {"PRES", "MAYOR", "SENATE", "RAIN"}
        assert {f["order_id"] for f in outputs["fills"] if f["liquidity"] == "settlement"} == {
            f"~settlement-{symbol}" for symbol in settled_markets}  # fmt: skip
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a2")] == [
            ("accepted", None), ("cancelled", "MARKET_RESOLVED")]  # fmt: skip
        assert [d["error"] for d in outputs["dead_letters"]] == [
            "'BTC' is not a known prediction market",
            "'PRES' has already resolved yes: a resolution is final",
        ]
        for account_id, cash in (("ann", "105.95"), ("bob", "96.97"), ("cat", "97.91")):
            view = p.api("GET", f"/accounts/{account_id}")[1]
            assert (view["cash"], view["positions"], view["resting_orders"]) == (cash, [], [])

        await p.order("bob", "b2", "PRES", "buy", "1", outcome="yes")
        assert [(e["status"], e.get("reason")) for e in await p.order_events("b2")] == [
            ("rejected", "MARKET_RESOLVED")]  # fmt: skip
