"""The peers' job, side by side in one run: parse a JSON record, add its Decimal amount to the
key's total in state kept in RocksDB with a changelog, send one output per input (records over
RECORD_KEYS keys, 4 partitions, one local broker):

1. a raw aiokafka loop, state in a dict (no changelog: the Python + Kafka floor);
2. a bare Faust agent with a RocksDB table (`bench/apps/peer_faust.py`);
3. Quix Streams, RocksDB state, exactly-once and at-least-once (`bench/apps/peer_quix.py`);
4. the pipeline on the nearest job of its own: orders to PIPELINE_ACCOUNTS accounts, each parsed,
   checked and executed against its account (one state document with a changelog), with its
   order event and fill out; at least once, with the effects of exactly once (no output that
   differs from one already published; see docs/architecture.md, "Delivery guarantees").

Each drains a backlog and is timed by its consumer group's committed offsets (bench.throughput).
`python -m bench.peers [records] [pipeline orders]` prints a table and writes
bench/results/peers.json. Needs the `bench` extra (quixstreams).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import harness
from bench.profile import Sampler
from bench.throughput import REPO, committed, drain_rate, env_for, preload, stop, worker
from fillstream.broker.admin import TopicSpec, ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.simulate.market import MarketModel
from fillstream.simulate.traders import TraderModel

RECORD_KEYS = 10_000
PIPELINE_ACCOUNTS = 10_000
PARTITIONS = 4


def records(count: int):
    for n in range(count):
        yield f"k{n % RECORD_KEYS}", json.dumps({"amount": f"{n % 97}.{n % 89:02d}"}).encode()


async def raw_loop(bootstrap: str, source: str, sink: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    totals: dict[bytes, Decimal] = {}
    seen, started = 0, None
    try:
        while seen < count:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                started = started or time.monotonic()
                for record in batch:
                    total = totals.get(record.key, Decimal(0)) + Decimal(
                        json.loads(record.value)["amount"]
                    )
                    totals[record.key] = total
                    value = json.dumps({"total": str(total)}).encode()
                    await producer.send(sink, key=record.key, value=value)
                seen += len(batch)
        await producer.flush()
    finally:
        await consumer.stop()
        await producer.stop()
    assert started is not None
    return count / (time.monotonic() - started)


async def faust_agent(bootstrap: str, prefix: str, count: int, work: Path) -> float:
    env = env_for(bootstrap, prefix, work / f"{prefix}data")
    command = [sys.executable, "-m", "faust", "-A", "bench.apps.peer_faust", "worker", "-l", "warn"]
    process = worker(command, env, work / f"{prefix}log")
    try:
        topics = {f"{prefix}peers-in"}
        return await drain_rate(bootstrap, env["FILLSTREAM_APP_ID"], topics, count, process)
    finally:
        stop(process)


async def quix(bootstrap: str, prefix: str, count: int, work: Path, guarantee: str) -> float:
    group = f"{prefix}quix"
    command = [
        sys.executable, "-m", "bench.apps.peer_quix", bootstrap, group, f"{prefix}peers-in",
        f"{prefix}peers-out", str(work / f"{prefix}quix-state"), guarantee,
    ]  # fmt: skip
    env = env_for(bootstrap, prefix, work / f"{prefix}quix")
    process = worker(command, env, work / f"{prefix}quix.log")
    try:
        return await drain_rate(bootstrap, group, {f"{prefix}peers-in"}, count, process)
    finally:
        stop(process)


async def job_topics(bootstrap: str, prefix: str, count: int) -> None:
    specs = [TopicSpec(f"{prefix}peers-in"), TopicSpec(f"{prefix}peers-out")]
    await ensure_topics(Kafka(bootstrap), specs, PARTITIONS)
    await preload(bootstrap, f"{prefix}peers-in", records(count))


async def pipeline(
    bootstrap: str,
    prefix: str,
    orders: int,
    work: Path,
    workers: int = 1,
    sampled: list[dict] | None = None,
    code: Path = REPO,
) -> float:
    """Accounts and a price for every symbol first; once the workers have applied them, the
    orders, as a backlog drained (the first worker sampled by py-spy while it drains, if
    ``sampled`` is given: its summary is appended), running the worker of the tree ``code``."""
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), PARTITIONS)
    market = MarketModel(8, 0, 1, 10_000, datetime.now(UTC))
    instruments = {i["symbol"]: i for i in market.instruments()}
    traders = TraderModel(PIPELINE_ACCOUNTS, 1, bad_share=0.0, reckless_share=0.0)
    ticks = list(islice(market.ticks(), 64))
    prices = {symbol: json.loads(value)["price"] for symbol, value in ticks}
    await preload(bootstrap, settings.topic("instruments"),
                  ((s, json.dumps(i).encode()) for s, i in instruments.items()))  # fmt: skip
    await preload(bootstrap, settings.topic("accounts"), traders.account_messages())
    await preload(bootstrap, settings.topic("ticks"), ticks)
    processes = []
    for n in range(workers):
        env = env_for(bootstrap, prefix, work / f"{prefix}data{n}", code)
        command = [sys.executable, "-m", "fillstream.cli", "worker"]
        processes.append(worker(command, env, work / f"{prefix}log{n}"))
    try:
        group, accounts = env["FILLSTREAM_APP_ID"], {settings.topic("accounts")}
        deadline = time.monotonic() + 300
        while await committed(bootstrap, group, accounts) < PIPELINE_ACCOUNTS:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("the workers did not open the accounts")
            await asyncio.sleep(0.5)
        await preload(bootstrap, settings.topic("orders"),
                      (traders.order(instruments, prices) for _ in range(orders)))  # fmt: skip
        topics = {settings.topic("orders")}
        if sampled is None:
            return await drain_rate(bootstrap, group, topics, orders, processes[0])
        with Sampler(processes[0].pid, work, f"{prefix}worker") as sampler:
            rate = await drain_rate(bootstrap, group, topics, orders, processes[0])
        sampled.append(sampler.summary())
        return rate
    finally:
        for process in processes:
            stop(process)


async def measure(bootstrap: str, count: int, orders: int, work: Path) -> dict:
    run = uuid.uuid4().hex[:6]
    figures: dict[str, float] = {}
    prefix = f"p{run}a."
    await job_topics(bootstrap, prefix, count)
    figures["raw_aiokafka_dict_state"] = await raw_loop(
        bootstrap, f"{prefix}peers-in", f"{prefix}peers-out", count
    )
    for name, guarantee, letter in (("quix_exactly_once", "exactly-once", "e"),
                                    ("quix_at_least_once", "at-least-once", "l")):  # fmt: skip
        prefix = f"p{run}{letter}."
        await job_topics(bootstrap, prefix, count)
        figures[name] = await quix(bootstrap, prefix, count, work, guarantee)
    prefix = f"p{run}f."
    await job_topics(bootstrap, prefix, count)
    figures["faust_table_agent"] = await faust_agent(bootstrap, prefix, count, work)
    figures["pipeline_orders"] = await pipeline(bootstrap, f"p{run}p.", orders, work)
    result: dict = {"records": count, "keys": RECORD_KEYS, "pipeline_orders": orders}
    result.update({f"{name}_per_second": round(rate) for name, rate in figures.items()})
    quix_eos = figures["quix_exactly_once"]
    result.update({f"{name}_vs_quix_exactly_once": round(rate / quix_eos, 3)
                   for name, rate in figures.items()})  # fmt: skip
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    orders = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    harness.run("peers", lambda bootstrap, work: measure(bootstrap, count, orders, work))


if __name__ == "__main__":
    main()
