"""`fillstream demo` in short mode: its summary agrees with the topics and the worker's state."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from tests.support import REPO_ROOT

TERMINAL = {"filled", "cancelled", "rejected", "expired"}


async def read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        while batches := await consumer.getmany(timeout_ms=3000):
            for records in batches.values():
                values.extend(record.value for record in records)
    finally:
        await consumer.stop()
    return values


def figure(stdout: str, label: str) -> int:
    return int(re.search(rf"{label}: (\d+)", stdout).group(1))


async def test_short_demo_summary_agrees_with_the_topics(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FILLSTREAM_")}
    env.update(
        FILLSTREAM_KAFKA_BOOTSTRAP=kafka_bootstrap,
        FILLSTREAM_DATA_DIR=str(tmp_path),
        FILLSTREAM_CONFIG=str(tmp_path / "none.toml"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "fillstream.cli", "demo", "--seconds", "6"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    prefix = re.search(r"topics prefixed '([^']+)'", out).group(1)

    fills = await read_all(kafka_bootstrap, f"{prefix}fills")
    assert figure(out, "fills") == len(fills) > 0
    assert len({json.loads(v)["fill_id"] for v in fills}) == len(fills)

    orders = await read_all(kafka_bootstrap, f"{prefix}orders")
    assert figure(out, "orders sent") == len(orders)
    sound, commands = [], []
    for value in orders:
        with contextlib.suppress(ValueError):
            message = json.loads(value)
            (commands if "action" in message else sound).append(message["order_id"])
    assert commands and set(commands) <= set(sound), "traders cancel and move their own orders"
    letters = await read_all(kafka_bootstrap, f"{prefix}dead-letters")
    assert len(letters) == len(orders) - len(sound) - len(commands) == figure(out, "dead letters")

    terminal = defaultdict(int)
    seen = set()
    events = await read_all(kafka_bootstrap, f"{prefix}order-events")
    for value in events:
        event = json.loads(value)
        seen.add(event["order_id"])
        terminal[event["order_id"]] += event["status"] in TERMINAL
    # Besides the traders' orders, the exits the engine placed for their filled brackets.
    exits = {order_id for order_id in seen if order_id.startswith(("~sl-", "~tp-"))}
    assert {order_id[4:] for order_id in exits} <= set(sound)
    assert seen - exits == set(sound)
    sound += sorted(exits)
    assert max(terminal.values()) == 1
    lifecycle = Counter(json.loads(value)["status"] for value in events)
    for status in ("partially filled", "cancelled", "replaced", "expired", "triggered"):
        assert figure(out, status) == lifecycle[status.replace(" ", "_")]
    assert lifecycle["cancelled"] > 0 and lifecycle["replaced"] > 0
    assert lifecycle["partially_filled"] > 0, "the quotes' sizes fill some orders in parts"
    # Each order's end says what its fills add up to.
    filled: defaultdict[str, Decimal] = defaultdict(Decimal)
    for value in fills:
        fill = json.loads(value)
        filled[fill["order_id"]] += Decimal(fill["quantity"])
    for value in events:
        event = json.loads(value)
        if event["status"] in TERMINAL:
            assert Decimal(event["filled_quantity"]) == filled[event["order_id"]], event
    still_open = [order_id for order_id in sound if terminal[order_id] == 0]
    # Orders with no terminal event are exactly the ones the worker holds as resting.
    assert len(still_open) == figure(out, "resting at the end")
    assert figure(out, "orders ended") == len(sound) - len(still_open)

    # Each program's line counts its decisions on risk-events.
    risk = [json.loads(value) for value in await read_all(kafka_bootstrap, f"{prefix}risk-events")]
    for program_id in ("ftmo-like", "eod-ny"):
        mine = [e for e in risk if e["type"] == "evaluation" and e["program_id"] == program_id]
        decided = Counter(e["outcome"] for e in mine)
        counts = r"(\d+) accounts, passed: (\d+), failed: (\d+), locked: (\d+)"
        line = re.search(rf"program {program_id}: {counts}", out)
        assert line is not None, out
        counted = [int(n) for n in line.groups()]
        assert counted[0] > 0 and counted[1:] == [
            decided[o] for o in ("passed", "failed", "locked")
        ]

    analyst_rows = out.split("ClickHouse (through the sink)")[1].splitlines()[2:7]
    assert len(analyst_rows) == 5
    assert all(re.match(r"\s+(trader|reckless)-\d{4}\s+\d+\s", row) for row in analyst_rows)
    assert out.rstrip().endswith("worker stopped\nsink stopped")
    for role in ("worker", "sink"):
        assert "Traceback" not in (tmp_path / f"demo-{role}.log").read_text()
