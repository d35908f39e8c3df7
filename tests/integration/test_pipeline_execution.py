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
            "fill_id": "alice#1",
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
            # marked at the last price: 7996.960962 + 0.1 * 20000.37
            "equity_after": "9996.997962",
            "realized_pnl": "0",
        }


async def test_resting_limit_fills_at_its_limit_on_a_touch_even_if_the_price_moves_back(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("ETH-USD", taker_fee_bps="10", maker_fee_bps="2", slippage_bps="5")
        await p.account("maker", "10000")
        await p.tick("ETH-USD", "2000")
        await p.order("maker", "bid", "ETH-USD", "buy", "2", limit_price="1990")
        await p.wait_for(lambda o: any(e["order_id"] == "bid" for e in o["order_events"]))
        await p.tick("ETH-USD", "1995")
        assert p.fills_of("bid") == []
        touch_ts = await p.tick("ETH-USD", "1990")
        await p.tick("ETH-USD", "2010")
        events = await p.order_events("bid")
        assert [e["status"] for e in events] == ["accepted", "filled"]
        (fill,) = p.fills_of("bid")
        # 2 * 1990 = 3980 at the limit; maker fee 3980 * 2 / 10000 = 0.796
        assert (fill["price"], fill["fee"], fill["liquidity"], fill["ts"]) == (
            "1990",
            "0.796",
            "maker",
            touch_ts,
        )
        assert (fill["cash_after"], fill["position_quantity"]) == ("6019.204", "2")


async def test_short_sale_and_buy_back_realize_pnl(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("SOL-USD", taker_fee_bps="10")
        await p.account("shorty", "10000", max_leverage="2")
        await p.tick("SOL-USD", "100")
        await p.order("shorty", "short", "SOL-USD", "sell", "30")
        await p.order_events("short")
        await p.tick("SOL-USD", "80")
        await p.order("shorty", "cover", "SOL-USD", "buy", "30")
        await p.order_events("cover")
        (short,) = p.fills_of("short")
        (cover,) = p.fills_of("cover")
        # short: 30 * 100 = 3000, fee 3; cash 12997; position -30 @ 100
        assert (short["cash_after"], short["position_quantity"], short["position_avg_price"]) == (
            "12997",
            "-30",
            "100",
        )
        # cover: 30 * 80 = 2400, fee 2.4; realized 30 * (80 - 100) * -1 = 600; cash 10594.6
        assert (cover["realized_pnl"], cover["fee"], cover["cash_after"]) == (
            "600",
            "2.4",
            "10594.6",
        )
        assert (cover["position_quantity"], cover["position_avg_price"]) == ("0", "0")


async def test_prediction_yes_and_no(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("RAIN-TOMORROW", kind="prediction", taker_fee_bps="100")
        await p.account("punter", "1000")
        await p.tick("RAIN-TOMORROW", "0.62")
        await p.order("punter", "yes", "RAIN-TOMORROW", "buy", "100", outcome="yes")
        await p.order("punter", "no", "RAIN-TOMORROW", "buy", "200", outcome="no")
        await p.order_events("no")
        await p.tick("RAIN-TOMORROW", "0.75")
        await p.order("punter", "sell-yes", "RAIN-TOMORROW", "sell", "100", outcome="yes")
        await p.order("punter", "sell-no", "RAIN-TOMORROW", "sell", "201", outcome="no")
        await p.order_events("sell-no")
        (yes,) = p.fills_of("yes")
        (no,) = p.fills_of("no")
        (sold,) = p.fills_of("sell-yes")
        # YES: 100 * 0.62 = 62, fee 0.62 -> cash 937.38
        assert (yes["price"], yes["fee"], yes["cash_after"]) == ("0.62", "0.62", "937.38")
        # NO costs 1 - 0.62 = 0.38: 200 * 0.38 = 76, fee 0.76 -> cash 860.62
        assert (no["price"], no["fee"], no["cash_after"]) == ("0.38", "0.76", "860.62")
        # sell YES at 0.75: 75, fee 0.75, realized 100 * (0.75 - 0.62) = 13 -> cash 934.87
        assert (sold["price"], sold["realized_pnl"], sold["cash_after"]) == (
            "0.75",
            "13",
            "934.87",
        )
        (rejected,) = [e for e in p.outputs()["order_events"] if e["order_id"] == "sell-no"]
        assert (rejected["status"], rejected["reason"]) == ("rejected", "INSUFFICIENT_POSITION")
