"""Throughput on one worker, side by side with the two ceilings, in one run:

1. raw aiokafka: consume -> produce with no logic (the Kafka + Python limit);
2. a bare Faust agent updating one RocksDB table row per message (the framework limit);
3. the pipeline: orders and ticks (4 ticks per order) through the router and the execution agent.

Each is fed a backlog prepared in advance and timed by its consumer group's committed offsets,
from the first commit to the last, so the figure is the rate a worker drains a backlog at (the
first commit interval is left out: start-up and recovery do not count).
`python -m bench.throughput [orders]` prints a table and writes bench/results/throughput.json.
Uses FILLSTREAM_KAFKA_BOOTSTRAP, else a local broker.
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
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from bench import harness
from fillstream.broker.admin import TopicSpec, ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.broker.local import free_port
from fillstream.settings import Settings
from fillstream.simulate.market import MarketModel
from fillstream.simulate.publish import upstream_producer
from fillstream.simulate.traders import TraderModel

REPO = Path(__file__).resolve().parent.parent
TICKS_PER_ORDER = 4
CEILING_RECORDS = 100_000


async def preload(bootstrap: str, topic: str, messages) -> int:
    producer = upstream_producer(Kafka(bootstrap))
    await producer.start()
    sent = 0
    try:
        for key, value in messages:
            await producer.send(topic, key=key.encode(), value=value)
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def raw_loop(bootstrap: str, prefix: str, count: int) -> float:
    source, sink = f"{prefix}raw-in", f"{prefix}raw-out"
    await ensure_topics(Kafka(bootstrap), [TopicSpec(source), TopicSpec(sink)], 4)
    await preload(bootstrap, source, ((f"k{n % 1000}", b'{"n": 1}') for n in range(count)))
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=f"{prefix}raw", auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    seen = 0
    started = None
    try:
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                started = started or time.monotonic()
                for record in records:
                    await producer.send(sink, key=record.key, value=record.value)
                seen += len(records)
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()
    return count / (time.monotonic() - started)


def worker(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=env["PYTHONPATH"], stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after a minute: a benchmark must not leave a worker behind."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


async def committed(bootstrap: str, group: str, topics: set[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except GroupCoordinatorNotAvailableError:
        return 0  # a fresh broker creates its offsets topic with the first group
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic in topics)


async def drain_rate(bootstrap: str, group: str, topics: set[str], total: int, process) -> float:
    """Records per second between the first and the last committed offset moving."""
    started = None
    done = 0
    last_progress = time.monotonic()
    while done < total:
        if process.poll() is not None:
            raise RuntimeError("the worker exited")
        now_done = await committed(bootstrap, group, topics)
        now = time.monotonic()
        if now_done > done:
            if started is None:
                started, first = now, now_done
            done, last_progress = now_done, now
        elif now - last_progress > 60:
            raise RuntimeError(f"stuck at {done} of {total}")
        await asyncio.sleep(0.2)
    if done == first:
        raise RuntimeError("the backlog drained within one commit interval: make it larger")
    return (done - first) / (last_progress - started)


def env_for(bootstrap: str, prefix: str, data: Path, code: Path = REPO) -> dict:
    """A worker's environment; `code` is the source tree it runs (another version, to compare)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILLSTREAM_")}
    env.update(
        FILLSTREAM_KAFKA_BOOTSTRAP=bootstrap, FILLSTREAM_TOPIC_PREFIX=prefix,
        FILLSTREAM_APP_ID=prefix.rstrip("."), FILLSTREAM_DATA_DIR=str(data),
        FILLSTREAM_WEB_PORT=str(free_port()), FILLSTREAM_CONFIG=str(data / "none.toml"),
        PYTHONPATH=str(code),
    )  # fmt: skip
    return env


async def faust_ceiling(bootstrap: str, prefix: str, count: int, work: Path) -> float:
    source = f"{prefix}ceiling-in"
    await ensure_topics(Kafka(bootstrap), [TopicSpec(source)], 4)
    await preload(bootstrap, source, ((f"k{n % 1000}", b"1") for n in range(count)))
    env = env_for(bootstrap, prefix, work / "faust-ceiling")
    command = [
        sys.executable,
        "-m",
        "faust",
        "-A",
        "bench.apps.table_agent",
        "worker",
        "-l",
        "warn",
    ]
    process = worker(command, env, work / "faust-ceiling.log")
    try:
        return await drain_rate(bootstrap, env["FILLSTREAM_APP_ID"], {source}, count, process)
    finally:
        stop(process)


async def prepare_pipeline(bootstrap: str, prefix: str, orders: int) -> set[str]:
    """A backlog of instruments, accounts, ticks and orders; returns the input topics timed."""
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), 4)
    market = MarketModel(8, 4, 1, 10_000, datetime.now(UTC))
    instruments = {i["symbol"]: i for i in market.instruments()}
    traders = TraderModel(1000, 1, bad_share=0.0, reckless_share=0.0)
    ticks = list(islice(market.ticks(), orders * TICKS_PER_ORDER))
    prices = {symbol: json.loads(value)["price"] for symbol, value in ticks[-len(instruments) :]}
    await preload(bootstrap, settings.topic("instruments"),
                  ((s, json.dumps(i).encode()) for s, i in instruments.items()))  # fmt: skip
    await preload(bootstrap, settings.topic("accounts"), traders.account_messages())
    await preload(bootstrap, settings.topic("ticks"), ticks)
    await preload(bootstrap, settings.topic("orders"),
                  (traders.order(instruments, prices) for _ in range(orders)))  # fmt: skip
    return {settings.topic(n) for n in ("ticks", "orders")}


async def pipeline(
    bootstrap: str, prefix: str, orders: int, work: Path, code: Path = REPO
) -> float:
    inputs = await prepare_pipeline(bootstrap, prefix, orders)
    env = env_for(bootstrap, prefix, work / f"pipeline-{prefix}", code)
    process = worker([sys.executable, "-m", "fillstream.cli", "worker"], env, work / f"{prefix}log")
    try:
        return await drain_rate(bootstrap, env["FILLSTREAM_APP_ID"], inputs,
                                orders * (1 + TICKS_PER_ORDER), process)  # fmt: skip
    finally:
        stop(process)


async def measure(bootstrap: str, orders: int, work: Path) -> dict:
    count = CEILING_RECORDS
    run = uuid.uuid4().hex[:6]
    raw = await raw_loop(bootstrap, f"b{run}a.", count)
    ceiling = await faust_ceiling(bootstrap, f"b{run}b.", count, work)
    rate = await pipeline(bootstrap, f"b{run}c.", orders, work)
    return {
        "ceiling_records": count,
        "pipeline_records": orders * (1 + TICKS_PER_ORDER),
        "raw_aiokafka_per_second": round(raw),
        "faust_table_agent_per_second": round(ceiling),
        "pipeline_input_records_per_second": round(rate),
        "pipeline_orders_per_second": round(rate / (1 + TICKS_PER_ORDER)),
        "pipeline_vs_raw": round(rate / raw, 3),
        "pipeline_vs_faust": round(rate / ceiling, 3),
    }


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    harness.run("throughput", lambda bootstrap, work: measure(bootstrap, orders, work))


if __name__ == "__main__":
    main()
