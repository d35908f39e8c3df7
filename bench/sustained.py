"""Sustained throughput: the highest load, 4 ticks per order, one worker keeps up with for 60 s.

Each step offers ticks and orders together at a fixed rate (bench.offer, its own process) and
samples the worker's consumer lag on `ticks` and `orders` every second: end offsets minus the
committed ones. Committed offsets move once per commit interval (2.8 s), so the lag saws up and
down even when the worker keeps up; what tells is its low point. A step is sustained when, in
its last FINAL_WINDOW seconds, the lag fell to at most CAUGHT_UP_SECONDS of input: the worker
was still catching up with the load rather than falling further behind. Steps run from the
lowest rate up and stop at the first one not sustained.
`python -m bench.sustained [seconds per step] [orders/s ...]` prints a table and writes
bench/results/sustained.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import harness, offer
from bench.latency import start_pipeline
from bench.throughput import REPO, committed, stop

TICKS_PER_ORDER = 4
ORDER_RATES = [100, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000]
FINAL_WINDOW = 10.0
CAUGHT_UP_SECONDS = 1.0


async def end_offsets(bootstrap: str, topics: set[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        ]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # without a subscription none is known
    return consumer._client.cluster.partitions_for_topic(topic) or set()


async def lag(bootstrap: str, group: str, topics: set[str]) -> int:
    return await end_offsets(bootstrap, topics) - await committed(bootstrap, group, topics)


async def step(
    bootstrap: str,
    prefix: str,
    group: str,
    inputs,
    orders: int,
    seconds: float,
    ticks: int | None = None,
    accounts: int = offer.ACCOUNTS,
):
    """One load (TICKS_PER_ORDER ticks per order unless ``ticks`` is given) for ``seconds``."""
    ticks = orders * TICKS_PER_ORDER if ticks is None else ticks
    offered = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.offer", bootstrap, prefix, str(ticks), str(orders),
        str(seconds), "/dev/null", str(accounts), cwd=REPO,
    )  # fmt: skip
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    while offered.returncode is None:
        samples.append((time.monotonic() - start, await lag(bootstrap, group, inputs)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(offered.wait(), 1.0)
    if offered.returncode != 0:
        raise RuntimeError("the load generator failed")
    low_point = min(n for t, n in samples if t >= seconds - FINAL_WINDOW)
    behind = low_point / (ticks + orders)
    return {
        "orders_per_second": orders,
        "ticks_per_second": ticks,
        "lag_low_point_at_end": low_point,
        "seconds_behind_at_end": round(behind, 2),
        "sustained": behind <= CAUGHT_UP_SECONDS,
        "lag_each_second": [n for _, n in samples],
    }


async def drained(bootstrap: str, group: str, inputs: set[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while await lag(bootstrap, group, inputs) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not catch up between steps")
        await asyncio.sleep(1)


async def measure(bootstrap: str, seconds: float, rates: list[int], work: Path) -> dict:
    prefix = f"s{uuid.uuid4().hex[:6]}."
    pipeline = await start_pipeline(bootstrap, prefix, work)
    group = prefix.rstrip(".")
    inputs = {pipeline.settings.topic("ticks"), pipeline.settings.topic("orders")}
    steps = []
    try:
        for orders in rates:
            await drained(bootstrap, group, inputs)
            steps.append(await step(bootstrap, prefix, group, inputs, orders, seconds))
            if not steps[-1]["sustained"]:
                break
    finally:
        await pipeline.close()
        stop(pipeline.worker)
    best = [s for s in steps if s["sustained"]]
    return {
        "seconds_per_step": seconds,
        "highest_sustained_orders_per_second": best[-1]["orders_per_second"] if best else 0,
        "highest_sustained_ticks_per_second": best[-1]["ticks_per_second"] if best else 0,
        "steps": steps,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    rates = [int(r) for r in sys.argv[2:]] or ORDER_RATES
    harness.run("sustained", lambda bootstrap, work: measure(bootstrap, seconds, rates, work))


if __name__ == "__main__":
    main()
