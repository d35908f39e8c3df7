"""`fillstream kafka start/stop` run a real broker a plain client can use, and stop cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fillstream.broker.local import read_state
from tests.support import REPO_ROOT, Downstream, Upstream


def fillstream(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FILLSTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "fillstream.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.kafka  # starts a broker of its own
async def test_kafka_start_serves_clients_and_stop_leaves_no_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "broker"
    started = fillstream("kafka", "start", "--port", "0", "--data-dir", str(data_dir))
    try:
        assert started.returncode == 0, started.stderr
        bootstrap = started.stdout.strip().splitlines()[-1]
        state = read_state(data_dir)
        assert state is not None and bootstrap == f"127.0.0.1:{state.port}"

        again = fillstream("kafka", "start", "--data-dir", str(data_dir))
        assert again.stdout.strip() == bootstrap, "a second start reuses the running broker"

        async with Upstream(bootstrap) as upstream, Downstream(bootstrap, "cli-check") as reader:
            await upstream.send("cli-check", "k", {"price": "1.5"})
            records = await reader.poll_until(lambda records: len(records) == 1)
        assert json.loads(records[0].value) == {"price": "1.5"}
    finally:
        stopped = fillstream("kafka", "stop", "--data-dir", str(data_dir))
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
    assert read_state(data_dir) is None
    assert process_gone(state.pid)


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False
