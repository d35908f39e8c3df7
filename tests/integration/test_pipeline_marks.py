"""Marks are conflated to one per 250 ms of tick time: a dip that recovers within it goes
unmarked, and the first tick after the interval marks at the latest price."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tests.pipeline import Pipeline

MS = timedelta(milliseconds=1)


async def test_a_dip_within_the_mark_interval_is_not_marked_the_next_interval_is(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC")
        await p.account("ann", "1000", max_drawdown_pct="10")
        await p.tick("BTC", "500")  # marks (the first tick), the next marks come 250 ms on
        await p.order("ann", "btc", "BTC", "buy", "1")  # cash 500 + 1 BTC: equity 1000, the peak
        await p.order_events("btc")
        await p.tick("BTC", "300", after=100 * MS)  # equity 800, 20 % down: within the interval
        await p.tick("BTC", "500", after=100 * MS)
        await p.tick("BTC", "500", after=100 * MS)  # 300 ms on: marked at 500, no breach
        assert [e["type"] for e in p.outputs()["risk_events"]] == ["account_status"]
        breach_ts = await p.tick("BTC", "300", after=1000 * MS)  # marked: 20 % down
        outputs = await p.wait_for(
            lambda o: (
                any(f["liquidation"] for f in o["fills"])
                and any(e["type"] == "drawdown_violation" for e in o["risk_events"])
            )
        )

    violations = [e for e in outputs["risk_events"] if e["type"] == "drawdown_violation"]
    assert [
        (Decimal(v["equity"]), Decimal(v["peak_equity"]), Decimal(v["drawdown_pct"]), v["ts"])
        for v in violations
    ] == [(Decimal(800), Decimal(1000), Decimal(20), breach_ts)]
    liquidations = [(f["quantity"], f["price"]) for f in outputs["fills"] if f["liquidation"]]
    assert liquidations == [("1", "300")]
