"""Latency from an order being produced to what a downstream consumer sees, at fixed loads.

One worker; a separate process offers ticks and orders at each load in turn (bench.offer) and
notes when it sent each order. This process reads `order-events` and `fills` as a downstream
`read_committed` consumer and notes when each order's first event and first taker fill arrive.
Orders sent in a load's first WARM_UP seconds are left out of its figures.
`python -m bench.latency [seconds per load] [ticks/s:orders/s ...]` prints a table and writes
bench/results/latency.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import harness, offer
from bench.throughput import REPO, env_for, preload, stop, worker
from fillstream.broker.admin import TopicSpec, ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings

# (ticks/s, orders/s): 4 ticks per order, up to 1 000 orders/s; the last is past what one worker
# sustains (bench.sustained), to show what queueing does to latency.
LOADS = [(400, 100), (1_000, 250), (4_000, 1_000)]
WARM_UP = 5.0
# The bare Faust agent, for what exactly-once costs in the framework itself: its default commit
# interval, and Kafka Streams' exactly-once default of 100 ms.
ECHO_RATE = 1000
ECHO_MODES = [("at_least_once", 2.8), ("exactly_once", 2.8), ("exactly_once", 0.1)]
SETTLE_SECONDS = 10.0


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    at = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)  # noqa: E731
    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999)}


class Downstream:
    """Arrival times of each order's first order event and first taker fill."""

    def __init__(self, bootstrap: str, settings: Settings) -> None:
        self.events_topic = settings.topic("order_events")
        self.consumer = AIOKafkaConsumer(
            self.events_topic, settings.topic("fills"), bootstrap_servers=bootstrap,
            group_id=None, auto_offset_reset="earliest", isolation_level="read_committed",
        )  # fmt: skip
        self.first_event: dict[str, float] = {}
        self.first_fill: dict[str, float] = {}

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while True:
                batches = await self.consumer.getmany(timeout_ms=100)
                arrived = time.time()
                for tp, records in batches.items():
                    seen = self.first_event if tp.topic == self.events_topic else self.first_fill
                    for record in records:
                        message = json.loads(record.value)
                        if seen is self.first_fill and message["liquidity"] != "taker":
                            continue
                        seen.setdefault(message["order_id"], arrived)
        finally:
            await self.consumer.stop()


async def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def measure_load(bootstrap: str, prefix: str, load, seconds: float, down, work) -> dict:
    tick_rate, order_rate = load
    sent_file = work / f"sent-{order_rate}.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.offer", bootstrap, prefix, str(tick_rate), str(order_rate),
        str(seconds), str(sent_file), cwd=REPO,
    )  # fmt: skip
    if await process.wait() != 0:
        raise RuntimeError("the load generator failed")
    offered = json.loads(sent_file.read_text())
    sent_at: dict[str, float] = offered["orders"]
    measured = dict(islice(sent_at.items(), int(WARM_UP * order_rate), None))
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and not measured.keys() <= down.first_event.keys():
        await asyncio.sleep(0.2)
    to_event = [down.first_event[o] - t for o, t in measured.items() if o in down.first_event]
    to_fill = [down.first_fill[o] - t for o, t in measured.items() if o in down.first_fill]
    return {
        "ticks_per_second": tick_rate,
        "orders_per_second": order_rate,
        "offered_seconds": seconds,
        "orders_measured": len(measured),
        "orders_without_event_after_settling": len(measured) - len(to_event),
        "order_to_event": percentiles(to_event),
        "order_to_taker_fill": percentiles(to_fill),
    }


@dataclass
class RunningPipeline:
    """A worker on fresh topics with its market and accounts loaded, and a downstream reader."""

    settings: Settings
    worker: subprocess.Popen
    downstream: Downstream
    reading: asyncio.Task

    async def close(self) -> None:
        self.reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reading


async def start_pipeline(
    bootstrap: str, prefix: str, work: Path, code: Path = REPO
) -> RunningPipeline:
    """Returns once the worker (running the source tree `code`) has answered a first order."""
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), 4)
    model = offer.market(1)
    instruments = [(i["symbol"], json.dumps(i).encode()) for i in model.instruments()]
    await preload(bootstrap, settings.topic("instruments"), instruments)
    await preload(bootstrap, settings.topic("accounts"), offer.traders().account_messages())
    await preload(bootstrap, settings.topic("ticks"), islice(model.ticks(), len(instruments)))
    env = env_for(bootstrap, prefix, work / f"worker-{prefix}", code)
    process = worker([sys.executable, "-m", "fillstream.cli", "worker"], env, work / f"{prefix}log")
    down = Downstream(bootstrap, settings)
    pipeline = RunningPipeline(settings, process, down, asyncio.create_task(down.run()))
    probe = {"order_id": "probe-1", "account_id": "trader-0000", "symbol": "SIM0-USD",
             "side": "buy", "type": "market", "quantity": "0.001"}  # fmt: skip
    await preload(
        bootstrap, settings.topic("orders"), [("trader-0000", json.dumps(probe).encode())]
    )
    try:
        await wait_until(lambda: "probe-1" in down.first_event, 180, "the worker to start")
    except BaseException:
        await pipeline.close()
        stop(process)
        raise
    return pipeline


async def measure(bootstrap: str, seconds: float, loads: list[tuple[int, int]], work: Path) -> dict:
    prefix = f"l{uuid.uuid4().hex[:6]}."
    pipeline = await start_pipeline(bootstrap, prefix, work)
    try:
        results = [
            await measure_load(bootstrap, prefix, load, seconds, pipeline.downstream, work)
            for load in loads
        ]
    finally:
        await pipeline.close()
        stop(pipeline.worker)
    framework = []
    for guarantee, interval in ECHO_MODES:
        try:
            framework.append(await framework_latency(bootstrap, guarantee, interval, seconds, work))
        except Exception as error:  # a mode that fails is a finding, not the end of the run
            framework.append({"guarantee": guarantee, "commit_interval_seconds": interval,
                              "error": f"{type(error).__name__}: {error}"})  # fmt: skip
    return {"pipeline_at_least_once": results, "bare_faust_echo": framework}


async def _echoed_probe(consumer: AIOKafkaConsumer, process, guarantee: str) -> None:
    deadline = time.monotonic() + 180
    while True:
        batches = await consumer.getmany(timeout_ms=500)
        if any(r.value == b"probe" for records in batches.values() for r in records):
            return
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the echo agent ({guarantee}) did not start")


async def _offer_echoes(producer: AIOKafkaProducer, topic: str, seconds: float) -> None:
    """ECHO_RATE messages a second, each holding the wall-clock time it was sent."""
    start = time.monotonic()
    for n in range(int(ECHO_RATE * seconds)):
        due = start + n / ECHO_RATE
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        await producer.send(topic, key=f"k{n % 100}".encode(), value=repr(time.time()).encode())


async def framework_latency(
    bootstrap: str, guarantee: str, commit_interval: float, seconds: float, work: Path
) -> dict:
    """Produce to a bare Faust echo agent (bench/apps/echo_agent.py) at ECHO_RATE and time each
    message until a read_committed consumer sees it come out."""
    prefix = f"e{uuid.uuid4().hex[:6]}."
    source, echoed = f"{prefix}echo-in", f"{prefix}echo-out"
    await ensure_topics(Kafka(bootstrap), [TopicSpec(source), TopicSpec(echoed)], 4)
    env = env_for(bootstrap, prefix, work / prefix)
    env.update(FILLSTREAM_PROCESSING_GUARANTEE=guarantee,
               BENCH_COMMIT_INTERVAL=str(commit_interval))  # fmt: skip
    command = [sys.executable, "-m", "faust", "-A", "bench.apps.echo_agent", "worker", "-l", "warn"]
    process = worker(command, env, work / f"{prefix}log")
    consumer = AIOKafkaConsumer(
        echoed, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        isolation_level="read_committed",
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await consumer.start()
    await producer.start()
    delays: list[float] = []
    try:
        await producer.send_and_wait(source, key=b"probe", value=b"probe")
        await _echoed_probe(consumer, process, guarantee)
        offering = asyncio.create_task(_offer_echoes(producer, source, seconds))
        expected = int(ECHO_RATE * seconds)
        settle = time.monotonic() + seconds + SETTLE_SECONDS + 2 * commit_interval
        seen = 0
        while seen < expected and time.monotonic() < settle:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                arrived = time.time()
                for record in records:
                    seen += 1
                    if seen > ECHO_RATE * WARM_UP:
                        delays.append(arrived - float(record.value))
        await offering
    finally:
        await consumer.stop()
        await producer.stop()
        stop(process)
    return {
        "guarantee": guarantee,
        "commit_interval_seconds": commit_interval,
        "messages_per_second": ECHO_RATE,
        "produce_to_read_committed": percentiles(delays),
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    loads = [tuple(int(n) for n in arg.split(":")) for arg in sys.argv[2:]] or LOADS
    harness.run("latency", lambda bootstrap, work: measure(bootstrap, seconds, loads, work))


if __name__ == "__main__":
    main()
