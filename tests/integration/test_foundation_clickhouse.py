"""The default DSN is the embedded engine; MergeTree tables persist across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO_ROOT

WRITE = """
from datetime import datetime, timezone
from decimal import Decimal
from fillstream.sink.clickhouse import create_client
from fillstream.settings import Settings

client = create_client(Settings())
client.command(
    "CREATE TABLE trades (fill_id String, symbol LowCardinality(String), price Decimal(38, 18),"
    " ts DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (symbol, ts)"
)
client.insert(
    "trades",
    [["f1", "BTC-USD", Decimal("64000.125"), datetime(2026, 1, 2, 3, 4, 5, 678000, timezone.utc)],
     ["f2", "ETH-USD", Decimal("0.000000000000000001"), datetime(2026, 1, 2, tzinfo=timezone.utc)]],
    column_names=["fill_id", "symbol", "price", "ts"],
)
"""

READ = """
import json
from fillstream.sink.clickhouse import create_client
from fillstream.settings import Settings

rows = create_client(Settings()).query(
    "SELECT fill_id, symbol, toString(price), toString(ts) FROM trades ORDER BY fill_id"
).result_rows
print(json.dumps([list(row) for row in rows]))
"""


def run_python(code: str, data_dir: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FILLSTREAM_")}
    env["FILLSTREAM_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_merge_tree_written_by_one_process_is_read_by_another(data_dir: Path) -> None:
    run_python(WRITE, data_dir)
    rows = json.loads(run_python(READ, data_dir))
    assert rows == [
        ["f1", "BTC-USD", "64000.125", "2026-01-02 03:04:05.678"],
        ["f2", "ETH-USD", "0.000000000000000001", "2026-01-02 00:00:00.000"],
    ]
    assert (data_dir / "clickhouse").is_dir()
