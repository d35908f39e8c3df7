"""The ClickHouse sink: rows/s into the embedded engine draining a backlog, and the delay from a
fill being produced to its row being in ClickHouse at a steady rate.

`python -m bench.sink [rows]` prints a table and writes bench/results/sink.json. Uses
FILLSTREAM_KAFKA_BOOTSTRAP, else a local broker. The sink is sampled with py-spy while it
drains the backlog (bench.profile), to say where its time goes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench import harness
from bench.profile import Sampler
from fillstream.auth import hash_key
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.broker.local import free_port
from fillstream.settings import Settings
from fillstream.simulate.publish import upstream_producer
from fillstream.sink.http import ask
from fillstream.wire.times import format_time

REPO = Path(__file__).resolve().parent.parent
STEADY_RATE = 2000
STEADY_SECONDS = 20
ADMIN_KEY = "bench-admin-key"


def fill(n: int) -> tuple[str, bytes]:
    account = f"acct-{n % 500}"
    ts = format_time(datetime.now(UTC))
    value = {
        "fill_id": f"{account}:o{n}", "order_id": f"o{n}", "account_id": account,
        "symbol": "BTC-USD", "side": "buy", "quantity": "0.5", "price": "64000.25",
        "fee": "16.0000625", "liquidity": "taker", "liquidation": False, "ts": ts,
        "position_quantity": "0.5", "position_avg_price": "64000.25", "cash_after": "67999.875",
        "equity_after": "99999.9", "realized_pnl": "0",
    }  # fmt: skip
    return account, json.dumps(value).encode()


async def produce(bootstrap: str, topic: str, count: int, rate: float | None, first: int = 0):
    producer = upstream_producer(Kafka(bootstrap))
    await producer.start()
    started = time.monotonic()
    try:
        for n in range(first, first + count):
            if rate and (due := (n - first) / rate) > time.monotonic() - started:
                await asyncio.sleep(due - (time.monotonic() - started))
            key, value = fill(n)
            await producer.send(topic, key=key.encode(), value=value)
        await producer.flush()
    finally:
        await producer.stop()


def sql(port: int, query: str) -> list | None:
    try:
        return ask(f"http://127.0.0.1:{port}", query, ADMIN_KEY)["rows"]
    except OSError:
        return None


async def wait_rows(port: int, expected: int, process: subprocess.Popen) -> tuple[float, float]:
    """(time the first rows appeared, time all were there)."""
    first = None
    while True:
        if process.poll() is not None:
            raise RuntimeError("the sink exited")
        rows = sql(port, "SELECT count() FROM trades")
        now = time.monotonic()
        if rows and rows[0][0] > 0 and first is None:
            first = (now, rows[0][0])
        if rows and rows[0][0] >= expected:
            return first, now
        await asyncio.sleep(0.1)


async def measure(bootstrap: str, count: int, work: Path, code: Path = REPO) -> dict:
    """`code` is the source tree the sink runs (another version, to compare)."""
    work.mkdir(parents=True, exist_ok=True)
    prefix = f"s{uuid.uuid4().hex[:6]}."
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), 4)
    await produce(bootstrap, settings.topic("fills"), count, None)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILLSTREAM_")}
    env.update(
        FILLSTREAM_KAFKA_BOOTSTRAP=bootstrap, FILLSTREAM_TOPIC_PREFIX=prefix,
        FILLSTREAM_APP_ID=prefix.rstrip("."), FILLSTREAM_DATA_DIR=str(work / prefix),
        FILLSTREAM_SINK_PORT=str(port), FILLSTREAM_CONFIG=str(work / "none.toml"),
        FILLSTREAM_API_KEYS=json.dumps({hash_key(ADMIN_KEY): "admin"}),
        PYTHONPATH=str(code),
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "fillstream.cli", "sink"], env=env, cwd=code,
        stdout=(work / f"sink-{prefix}log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        with Sampler(process.pid, work, f"sink-{prefix}") as sampler:
            (first_at, first_rows), done_at = await wait_rows(port, count, process)
        backlog_rate = (count - first_rows) / (done_at - first_at) if done_at > first_at else 0
        await produce(
            bootstrap, settings.topic("fills"), STEADY_RATE * STEADY_SECONDS, STEADY_RATE, count
        )
        await wait_rows(port, count + STEADY_RATE * STEADY_SECONDS, process)
        delays = sql(
            port,
            "SELECT quantiles(0.5, 0.99)(dateDiff('millisecond', ts, inserted_at))"
            f" FROM trades WHERE toUInt64OrZero(substring(order_id, 2)) >= {count}",
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    p50, p99 = delays[0][0]
    return {
        "backlog_rows": count,
        "backlog_rows_per_second": round(backlog_rate),
        "steady_rows_per_second": STEADY_RATE,
        "fill_to_row_p50_ms": round(float(p50)),
        "fill_to_row_p99_ms": round(float(p99)),
        "backlog_profile": sampler.summary(),
    }


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    harness.run("sink", lambda bootstrap, work: measure(bootstrap, count, work))


if __name__ == "__main__":
    main()
