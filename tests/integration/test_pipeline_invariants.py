"""The risk invariants through the real broker and worker: one case per way around them that
ordinary inputs used to find."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.pipeline import Pipeline


def outcome(pipeline: Pipeline, account: str, order_id: str) -> list[tuple[str, str | None]]:
    return [
        (e["status"], e.get("reason"))
        for e in pipeline.outputs()["order_events"]
        if e["order_id"] == order_id and e["account_id"] == account
    ]


async def test_limits_bounds_identity_and_clock_hold_through_the_pipeline(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, log, duplicate_window_hours="0") as p:
        await p.instrument("BTC/USD")
        await p.instrument("ETH")
        await p.instrument("PRES", kind="prediction", slippage_bps="50", tick_size="0.001")
        await p.send(
            "instruments",
            "BAD",
            {"symbol": "BAD", "kind": "crypto", "taker_fee_bps": "0", "maker_fee_bps": "0",
             "slippage_bps": "10000"},
        )  # fmt: skip
        for account in ("a", "a/b", "m"):
            await p.account(account, "1000", max_drawdown_pct="10")
        await p.account("r", "1000", max_order_pct="0.1")
        await p.tick("BTC/USD", "100")
        await p.tick("PRES", "0.5")

        # Ids holding "/" no longer meet in the tables: ("a", "b/c") and ("a/b", "c").
        await p.order("a", "b/c", "BTC/USD", "buy", "1")
        await p.order("a/b", "c", "BTC/USD", "buy", "1")
        await p.order_events("c")
        await p.order_events("b/c")
        filled = [("accepted", None), ("filled", None)]
        assert outcome(p, "a", "b/c") == outcome(p, "a/b", "c") == filled
        # An order id that comes back (window 0 here) gets a new fill id; the engine's ids are
        # not for clients.
        await p.order("a", "b/c", "BTC/USD", "buy", "1")
        await p.order("a", "~liquidation-9", "BTC/USD", "buy", "1")
        await p.order_events("~liquidation-9")
        await p.order_events("b/c", terminal=2)
        assert [f["fill_id"] for f in p.outputs()["fills"] if f["account_id"] == "a"] == [
            "a#1", "a#2"
        ]  # fmt: skip
        assert outcome(p, "a", "~liquidation-9") == [("rejected", "INVALID_ORDER")]

        # One buying power: 1000 YES resting at 0.4 commit 400, so 7 BTC (700) do not fit.
        await p.order("a/b", "rest", "PRES", "buy", "1000", outcome="yes", limit_price="0.4")
        await p.order("a/b", "seven", "BTC/USD", "buy", "7")
        await p.order_events("seven")
        assert outcome(p, "a/b", "seven") == [("rejected", "INSUFFICIENT_FUNDS")]
        # Absurd sizes are rejected as orders, with an order event, not an internal error.
        await p.order("a/b", "huge", "BTC/USD", "buy", "1e30")
        await p.order_events("huge")
        assert outcome(p, "a/b", "huge") == [("rejected", "INVALID_ORDER")]

        # A YES share near 1 with slippage is capped a tick below the payout.
        await p.tick("PRES", "0.9999")
        await p.order("a", "yes", "PRES", "buy", "10", outcome="yes")
        await p.order_events("yes")
        assert p.fills_of("yes")[0]["price"] == "0.999"

        # Closing is never refused for size (max_order_pct 0.1 % of 1000 = 1), and realized P&L
        # reconciles with cash to the last digit: a cost basis of 2 for 1.5 closed in two parts.
        await p.tick("ETH", "1")
        await p.order("r", "r1", "ETH", "buy", "1")
        await p.tick("ETH", "2")
        await p.order("r", "r2", "ETH", "buy", "0.5")
        await p.order("r", "r3", "ETH", "sell", "1")  # 2 > 1, but it only closes
        await p.order("r", "r4", "ETH", "sell", "0.5")
        await p.order_events("r4")
        closes = [p.fills_of(order)[0] for order in ("r3", "r4")]
        assert [f["realized_pnl"] for f in closes] == [
            "0.666666666666666667",
            "0.333333333333333333",
        ]
        assert closes[-1]["cash_after"] == "1001"

        # The index of who holds "BTC/USD" survives a restart, and a tick dated next century
        # (in a record stamped now) cannot stop the marks: the drop below still halts "m".
        await p.order("m", "hold", "BTC/USD", "buy", "5")
        await p.order_events("hold")
        p.worker.stop()
        p.worker.start()
        future = {"symbol": "BTC/USD", "price": "101", "ts": "2100-01-01T00:00:00Z"}
        await p.send("ticks", "BTC/USD", json.dumps(future).encode())

        def applied_with_the_record_time() -> bool:
            view = p.http(f"/market/{urllib.parse.quote('BTC/USD', safe='')}/")
            ticks = list(view["partitions"].values()) if view else []
            return bool(ticks) and all(t and t["price"] == "101" for t in ticks)

        await p.wait_until(applied_with_the_record_time, timeout=120)
        view = p.http(f"/market/{urllib.parse.quote('BTC/USD', safe='')}/")
        assert {t["ts"][:4] for t in view["partitions"].values()} == {str(datetime.now(UTC).year)}
        await p.tick("BTC/USD", "70")  # m: 500 cash + 5 x 70 = 850, 15 % below 1000
        outputs = await p.wait_for(
            lambda o: any(e.get("type") == "drawdown_violation" for e in o["risk_events"])
        )
        violation = next(e for e in outputs["risk_events"] if e.get("type") == "drawdown_violation")
        assert (violation["account_id"], Decimal(violation["equity"])) == ("m", Decimal("850"))
        letters = [json.loads(d["value"])["symbol"] for d in outputs["dead_letters"]]
        assert letters == ["BAD"]
        assert "slippage_bps" in outputs["dead_letters"][0]["error"]
        assert [d for d in outputs["dead_letters"] if "internal error" in d["error"]] == []
