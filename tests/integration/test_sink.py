"""The ClickHouse sink against the real broker and the embedded engine: exactly once, through
a kill between insert and commit and through a ClickHouse outage."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from tests.support import SinkProcess, Upstream

ACCOUNTS = ["ann", "ben", "cat"]


def fill(n: int) -> dict:
    account = ACCOUNTS[n % len(ACCOUNTS)]
    price = Decimal("100") + n
    return {
        "fill_id": f"{account}:o{n}", "order_id": f"o{n}", "account_id": account,
        "symbol": "BTC-USD" if n % 2 else "ETH-USD", "side": "buy", "quantity": "0.5",
        "price": str(price), "fee": str(price * Decimal("0.5") / 1000), "liquidity": "taker",
        "liquidation": False, "ts": f"2026-04-01T10:{n // 60:02d}:{n % 60:02d}.250Z",
        "position_quantity": "0.5", "position_avg_price": str(price),
        "cash_after": str(Decimal(10000) - price / 2), "equity_after": "10000",
        "realized_pnl": "0",
    }  # fmt: skip


async def publish_fills(bootstrap: str, sink: SinkProcess, count: int) -> None:
    await ensure_topics(Kafka(bootstrap), pipeline_topics(sink.settings), partitions=4)
    async with Upstream(bootstrap) as upstream:
        for n in range(count):
            value = fill(n)
            await upstream.send(sink.settings.topic("fills"), value["account_id"], value)


COUNTS = "SELECT count(), uniqExact(fill_id) FROM trades"


async def test_every_fill_lands_once_with_its_values(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    sink = SinkProcess(kafka_bootstrap, unique_id, data_dir, tmp_path / "sink.log")
    await publish_fills(kafka_bootstrap, sink, 30)
    sink.start()
    try:
        sink.wait_for_rows(COUNTS, [[30, 30]])
        rows = sink.sql(
            "SELECT fill_id, account_id, symbol, side, toString(quantity), toString(price),"
            " toString(fee), toString(ts), toString(cash_after), kafka_topic"
            " FROM trades WHERE order_id = 'o7'"
        )
        assert rows == [[
            "ben:o7", "ben", "BTC-USD", "buy", "0.5", "107", "0.0535",
            "2026-04-01 10:00:07.250", "9946.5", f"{unique_id}.fills",
        ]]  # fmt: skip
        migrations = sink.sql("SELECT version, description FROM schema_migrations ORDER BY version")
        assert migrations == [
            [1, "trades, orders and risk_events"],
            [2, "analyst views"],
            [3, "money columns Decimal(76, 18)"],
            [4, "orders: filled, open and average price; order_outcomes"],
            [5, "risk_events: operators' controls"],
            [6, "risk_events: evaluation programs' decisions; evaluation_status"],
            [7, "risk_events: program days; program_days; evaluation_status without them"],
        ]
        assert sink.status()["rows"] == 30
    finally:
        sink.process.stop()


async def test_kill_between_insert_and_commit_leaves_no_duplicate(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    sink = SinkProcess(kafka_bootstrap, unique_id, data_dir, tmp_path / "sink.log")
    await publish_fills(kafka_bootstrap, sink, 40)
    sink.start(fault="kill-after-insert")
    sink.process.process.wait(120)
    assert sink.process.process.returncode == -9, sink.process.log_tail()
    sink.start()
    try:
        sink.wait_for_rows(COUNTS, [[40, 40]])
        assert sink.sql("SELECT count() FROM trades FINAL") == [[40]]
    finally:
        sink.process.stop()


async def test_clickhouse_outage_loses_and_duplicates_nothing(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    sink = SinkProcess(kafka_bootstrap, unique_id, data_dir, tmp_path / "sink.log")
    await publish_fills(kafka_bootstrap, sink, 25)
    sink.start(fault="fail-inserts:3")
    try:
        sink.wait_for_rows(COUNTS, [[25, 25]])
        status = sink.status()
        assert status["errors"] == 3 and status["healthy"] is True
        assert status["rows"] == 25
    finally:
        sink.process.stop()
