"""`fillstream demo` in short mode: trades, prints its summary, stops its worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support import REPO_ROOT


def test_short_demo_trades_and_stops_cleanly(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FILLSTREAM_")}
    env.update(
        FILLSTREAM_KAFKA_BOOTSTRAP=kafka_bootstrap,
        FILLSTREAM_DATA_DIR=str(tmp_path),
        FILLSTREAM_CONFIG=str(tmp_path / "none.toml"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "fillstream.cli", "demo", "--seconds", "4"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fills = int(re.search(r"fills: (\d+)", result.stdout).group(1))
    assert fills > 0
    assert "accounts by equity" in result.stdout
    assert "ClickHouse (through the sink)" in result.stdout
    analyst_rows = result.stdout.split("ClickHouse (through the sink)")[1].splitlines()[2:5]
    assert sorted(row.split()[0] for row in analyst_rows) == [
        "careful-carol",
        "reckless-rick",
        "steady-sam",
    ]
    assert result.stdout.rstrip().endswith("worker stopped\nsink stopped")
    for role in ("worker", "sink"):
        assert "Traceback" not in (tmp_path / f"demo-{role}.log").read_text()
