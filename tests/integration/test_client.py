"""Upstream systems and operators against a running worker: the shell commands (order submit and
cancel, account show, dead-letters tail and redrive) and an upstream system in JavaScript
(kafkajs), each checked against hand-computed answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fillstream.broker.connection import Kafka
from tests.pipeline import Pipeline
from tests.support import ADMIN_KEY, REPO_ROOT, javascript_order


@pytest.fixture
async def pipeline(kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path):
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC-USD", taker_fee_bps="10")
        await p.account("ann", "10000")
        await p.tick("BTC-USD", "250.5")
        yield p


async def shell(pipeline: Pipeline, *args: str, **env: str) -> tuple[int, list[dict], str]:
    """A `fillstream` command with the worker's settings and ``env`` (more FILLSTREAM_ settings):
    exit code, JSON lines, stderr."""
    settings = {f"FILLSTREAM_{name.upper()}": value for name, value in env.items()}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fillstream.cli", *args,
        env={**pipeline.env, **settings}, cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    lines = [json.loads(line) for line in out.decode().splitlines()]
    return process.returncode or 0, lines, err.decode()


async def test_orders_and_accounts_from_the_shell(pipeline: Pipeline) -> None:
    code, (filled,), _ = await shell(
        pipeline, "order", "submit", "--account", "ann", "--symbol", "BTC-USD", "--side", "buy",
        "--quantity", "4", "--order-id", "o1",
    )  # fmt: skip
    assert code == 0
    assert [filled[k] for k in ("order_id", "status", "filled_quantity", "avg_price")] == [
        "o1", "filled", "4", "250.5"]  # fmt: skip

    code, _, err = await shell(
        pipeline, "order", "submit", "--account", "ann", "--symbol", "BTC-USD", "--side", "buy",
        "--quantity", "1", "--type", "limit", "--limit-price", "200", "--order-id", "o2",
        "--timeout", "2",
    )  # fmt: skip
    assert (code, err.strip()) == (4, "fillstream: no answer for order o2 yet (it may still rest)")
    code, (cancelled,), _ = await shell(
        pipeline, "order", "cancel", "--account", "ann", "--order-id", "o2")  # fmt: skip
    assert (code, cancelled["status"], cancelled["leaves_quantity"]) == (0, "cancelled", "0")

    code, (refused,), _ = await shell(
        pipeline, "order", "submit", "--account", "ann", "--symbol", "BTC-USD", "--side", "buy",
        "--quantity", "1000", "--order-id", "o3",
    )  # fmt: skip
    assert (code, refused["status"]) == (3, "rejected")

    code, (account,), _ = await shell(pipeline, "account", "show", "ann", api_key=ADMIN_KEY)
    # 10 000 - 4 * 250.5 - fee (10 bps of 1 002 = 1.002) = 8 996.998
    assert (code, account["cash"]) == (0, "8996.998")
    code, _, err = await shell(pipeline, "account", "show", "ann")
    assert code == 1 and err.startswith("fillstream account show: 401")


async def test_dead_letters_tail_and_redrive(pipeline: Pipeline) -> None:
    bad_json = b'{"order_id": "o9", oops'
    unknown_field = json.dumps({
        "order_id": "o8", "account_id": "ann", "symbol": "BTC-USD", "side": "buy",
        "type": "market", "quantity": "1", "colour": "red"}).encode()  # fmt: skip
    await pipeline.send("orders", "ann", bad_json)
    await pipeline.send("orders", "ann", unknown_field)
    await pipeline.wait_for(lambda r: len(r["dead_letters"]) == 2)

    code, tail, _ = await shell(pipeline, "dead-letters", "tail", "-n", "5")
    assert code == 0
    assert [(t["value"], t["error"][:14]) for t in tail] == [
        (bad_json.decode(), "malformed JSON"),
        (unknown_field.decode(), "schema: colour"),
    ]

    code, (done,), _ = await shell(pipeline, "dead-letters", "redrive", "--error", "schema")
    assert (code, done) == (0, {"redriven": 1, "passed_over": 1})
    # Back on orders with its key, byte for byte: the worker refuses it again, a third letter.
    orders = await _last_records(pipeline, "orders")
    assert (b"ann", unknown_field) in orders
    await pipeline.wait_for(lambda r: len(r["dead_letters"]) == 3)
    # The group remembers what it has seen: only the new letter goes back.
    code, (again,), _ = await shell(pipeline, "dead-letters", "redrive")
    assert (code, again) == (0, {"redriven": 1, "passed_over": 0})


async def _last_records(pipeline: Pipeline, name: str) -> list[tuple[bytes | None, bytes | None]]:
    kafka = Kafka(pipeline.bootstrap)
    partitions = await kafka.partitions(pipeline.topic(name))
    consumer = kafka.consumer(group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += [(r.key, r.value) for r in batch]
        return records
    finally:
        await consumer.stop()


async def test_an_upstream_system_in_javascript(pipeline: Pipeline) -> None:
    event = await javascript_order(pipeline.env, "ann", "BTC-USD", "sell", "0.5", "js-1")
    # A short sale of 0.5 at the last price, 250.5.
    assert {k: event[k] for k in ("order_id", "account_id", "status", "filled_quantity",
                                  "avg_price")} == {
        "order_id": "js-1", "account_id": "ann", "status": "filled", "filled_quantity": "0.5",
        "avg_price": "250.5"}  # fmt: skip
    await pipeline.wait_for(lambda r: any(f["order_id"] == "js-1" for f in r["fills"]))
    assert [fill["fee"] for fill in pipeline.fills_of("js-1")] == ["0.12525"]
