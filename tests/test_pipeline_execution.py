"""Hand-computed execution scenarios through the real broker and a real worker process."""

from __future__ import annotations

from pathlib import Path

from tests.pipeline import Pipeline


async def test_market_buy_with_fee_and_slippage(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC-USD", taker_fee_bps="10", slippage_bps="5", tick_size="0.01")
        await p.account("alice", "10000")
        await p.tick("BTC-USD", "20000.37")
        await p.order("alice", "o-1", "BTC-USD", "buy", "0.1")
        events = await p.order_events("o-1")
        assert [e["status"] for e in events] == ["accepted", "filled"]
        (fill,) = p.fills_of("o-1")
        # 20000.37 * 1.0005 = 20010.370185, rounded up to the tick: 20010.38;
        # fee 2001.038 * 10 / 10000 = 2.001038; cash 10000 - 2001.038 - 2.001038
        assert fill == {
            "fill_id": "alice:o-1",
            "order_id": "o-1",
            "account_id": "alice",
            "symbol": "BTC-USD",
            "side": "buy",
            "quantity": "0.1",
            "price": "20010.38",
            "fee": "2.001038",
            "liquidity": "taker",
            "liquidation": False,
            "ts": fill["ts"],
            "position_quantity": "0.1",
            "position_avg_price": "20010.38",
            "cash_after": "7996.960962",
            "realized_pnl": "0",
        }
