"""The ClickHouse sink against the real broker and the embedded engine: exactly once, through
a kill between insert and commit and through a ClickHouse outage."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from fillstream.auth import hash_key
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.settings import Settings
from fillstream.sink.http import ask
from tests.support import ADMIN_KEY, Upstream, WorkerProcess, worker_env

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


class SinkProcess:
    def __init__(self, bootstrap: str, unique_id: str, data_dir: Path, log: Path) -> None:
        admin = json.dumps({hash_key(ADMIN_KEY): "admin"})
        self.env = worker_env(bootstrap, data_dir, unique_id, f"{unique_id}.", api_keys=admin)
        self.settings = Settings(topic_prefix=f"{unique_id}.", kafka_bootstrap=bootstrap)
        self.log = log
        self.process = WorkerProcess([], self.env, log)
        self.port = int(self.env["FILLSTREAM_WEB_PORT"])
        self.env["FILLSTREAM_SINK_PORT"] = str(self.port)

    def start(self, fault: str | None = None) -> None:
        """The sink, or with a fault in its ClickHouse client (tests.apps.faulty_sink)."""
        command = (
            [sys.executable, "-m", "tests.apps.faulty_sink", fault]
            if fault
            else [sys.executable, "-m", "fillstream.cli", "sink"]
        )
        self.process = WorkerProcess(command, self.env, self.log)
        self.process.start()

    def sql(self, query: str) -> list[list] | None:
        try:
            return ask(f"http://127.0.0.1:{self.port}", query, ADMIN_KEY, timeout=10)["rows"]
        except OSError:
            return None

    def status(self) -> dict | None:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{self.port}/status")
            request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
            with urllib.request.urlopen(request, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())
        except OSError:
            return None

    def wait_for_rows(self, query: str, expected: list[list], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        rows = None
        while time.monotonic() < deadline:
            if self.process.exited:
                raise AssertionError(f"sink exited:\n{self.process.log_tail()}")
            rows = self.sql(query)
            if rows == expected:
                return
            time.sleep(0.2)
        raise AssertionError(f"{query} gave {rows}, expected {expected}")


async def publish_fills(bootstrap: str, sink: SinkProcess, count: int) -> None:
    await ensure_topics(bootstrap, pipeline_topics(sink.settings), partitions=4)
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
