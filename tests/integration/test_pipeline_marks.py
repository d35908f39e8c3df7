"""Every tick is marked: a rise and a dip that reverse within milliseconds both count, the rise
as the high-water mark, the dip as a breach of it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tests.pipeline import Pipeline

MS = timedelta(milliseconds=1)


async def test_a_peak_and_a_dip_within_milliseconds_are_both_marked(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC")
        await p.account("ann", "1000", max_drawdown_pct="10")
        await p.tick("BTC", "500")
        await p.order("ann", "btc", "BTC", "buy", "1")  # cash 500 + 1 BTC: equity 1000
        await p.order_events("btc")
        await p.tick("BTC", "750", after=10 * MS)  # equity 1250: the new peak
        breach_ts = await p.tick("BTC", "610", after=10 * MS)  # 1110: 140 / 1250 = 11.2 % down
        await p.tick("BTC", "750", after=10 * MS)  # back up, too late
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
    ] == [(Decimal(1110), Decimal(1250), Decimal("11.2"), breach_ts)]
    liquidations = [(f["quantity"], f["price"]) for f in outputs["fills"] if f["liquidation"]]
    assert liquidations == [("1", "610")]
