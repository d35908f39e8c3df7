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
    assert result.stdout.rstrip().endswith("worker stopped")
    worker_log = (tmp_path / "demo-worker.log").read_text()
    assert "Traceback" not in worker_log
