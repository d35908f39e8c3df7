"""A price move alone breaches drawdown: one violation, a halt, cancels and liquidation fills."""

from __future__ import annotations

from pathlib import Path

from tests.pipeline import Pipeline


async def test_price_move_alone_halts_cancels_and_liquidates(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC")
        await p.instrument("ELECTION", kind="prediction")
        await p.account("reckless", "1000", max_drawdown_pct="10")
        await p.tick("BTC", "500")
        await p.tick("ELECTION", "0.5")
        await p.order("reckless", "btc", "BTC", "buy", "1")
        await p.order("reckless", "yes", "ELECTION", "buy", "100", outcome="yes")
        await p.order("reckless", "resting", "BTC", "buy", "1", limit_price="100")
        await p.order_events("yes")
        await p.wait_for(lambda o: any(e["order_id"] == "resting" for e in o["order_events"]))
        await p.tick("BTC", "600")  # equity 450 + 600 + 50 = 1100: the peak
        await p.tick("BTC", "490")  # 990: 10 % below the peak exactly, not over
        assert p.outputs()["risk_events"][-1]["status"] == "active"
        breach_ts = await p.tick("BTC", "489")  # 989: 111 / 1100 = 10.09 %
        outputs = await p.wait_for(lambda o: len([f for f in o["fills"] if f["liquidation"]]) == 2)
        await p.order("reckless", "after", "BTC", "buy", "1")
        await p.order_events("after")
        await p.tick("BTC", "100")
        await p.order("reckless", "later", "BTC", "sell", "1")
        outputs = await p.wait_for(
            lambda o: any(e["order_id"] == "later" for e in o["order_events"])
        )

    violations = [e for e in outputs["risk_events"] if e["type"] == "drawdown_violation"]
    assert violations == [
        {
            "type": "drawdown_violation",
            "account_id": "reckless",
            "max_drawdown_pct": "10",
            # 111 / 1100 * 100 to the 18 places the wire carries; derived figures drop zeros
            "drawdown_pct": "10.090909090909090909",
            "equity": "989",
            "peak_equity": "1100",
            "ts": breach_ts,
        }
    ]
    statuses = [(e["status"], e["reason"]) for e in outputs["risk_events"] if "status" in e]
    assert statuses == [("active", "opened"), ("halted", "drawdown_violation")]
    liquidations = [
        (f["symbol"], f["side"], f.get("outcome"), f["quantity"], f["price"], f["cash_after"])
        for f in outputs["fills"]
        if f["liquidation"]
    ]
    assert liquidations == [
        ("BTC", "sell", None, "1", "489", "939"),
        ("ELECTION", "sell", "yes", "100", "0.5", "989"),
    ]
    by_order = {}
    for event in outputs["order_events"]:
        by_order.setdefault(event["order_id"], []).append((event["status"], event.get("reason")))
    assert by_order["resting"] == [("accepted", None), ("cancelled", "ACCOUNT_HALTED")]
    assert by_order["after"] == [("rejected", "ACCOUNT_HALTED")]
    assert by_order["later"] == [("rejected", "ACCOUNT_HALTED")]
