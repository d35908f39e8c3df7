"""Failover: two workers under steady orders; one is killed with kill -9 (every other time with
its disk wiped) and started again a second later. For each kill, how long the partitions stood
still: the longest gap, per partition, between the last order event before the kill and the
first after it.

It runs once with the default session (6 s, heartbeats every 2 s) and once with the tuned one
(2 s, 0.5 s), one after the other in the same run.

`python -m bench.failover [kills] [seconds-between]` prints a table and writes
bench/results/failover.json. Uses FILLSTREAM_KAFKA_BOOTSTRAP, else a local broker.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import uuid
from pathlib import Path

from bench import harness
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from tests.chaos import Cluster, Load, failover_seconds, read_all
from tests.support import Upstream

RATE = 40.0
SESSIONS = {
    "default (6 s / 2 s)": {},
    "tuned (2 s / 0.5 s)": {"kafka_session_timeout_seconds": "2", "kafka_heartbeat_seconds": "0.5"},
}
"""The settings measured in docs/benchmarks.md ("Failover")."""
WARM_UP_SECONDS = 15.0


async def measure(bootstrap: str, work: Path, kills: int, between: float) -> dict:
    return {
        name: await measure_one(bootstrap, work / f"run-{n}", kills, between, session)
        for n, (name, session) in enumerate(SESSIONS.items())
    }


async def measure_one(
    bootstrap: str, work: Path, kills: int, between: float, session: dict[str, str]
) -> dict:
    work.mkdir(parents=True)
    app_id = f"failover-{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=f"{app_id}.", kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), settings.topic_partitions)
    cluster = Cluster(bootstrap, app_id, work, workers=2, **session)
    load = Load(settings, [f"acc-{n}" for n in range(16)], orders_per_second=RATE,
                ticks_per_second=RATE / 2)  # fmt: skip
    cluster.start()
    try:
        async with Upstream(bootstrap) as upstream:
            await load.open(upstream, bootstrap)
            running = asyncio.create_task(
                load.run(upstream, WARM_UP_SECONDS + kills * between + 10)
            )
            await asyncio.sleep(WARM_UP_SECONDS)
            for n in range(kills):
                cluster.kill(n % 2, wipe=n % 4 >= 2)
                await asyncio.sleep(1.0)
                cluster.workers[n % 2].start()
                await asyncio.sleep(between - 1.0)
            await running
        records = await read_all(bootstrap, [settings.topic("order_events")])
    finally:
        cluster.stop()
    stalls = failover_seconds(cluster.kills, records[settings.topic("order_events")])
    kept = [s for s, kill in zip(stalls, cluster.kills, strict=True) if not kill["wiped"]]
    wiped = [s for s, kill in zip(stalls, cluster.kills, strict=True) if kill["wiped"]]
    return {
        "kills": kills,
        "orders_per_second": RATE,
        "stall_seconds_disk_kept": kept,
        "stall_seconds_disk_wiped": wiped,
        "stall_seconds_median": statistics.median(stalls),
        "stall_seconds_max": max(stalls),
    }


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    between = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    harness.run("failover", lambda bootstrap, work: measure(bootstrap, work, kills, between))


if __name__ == "__main__":
    main()
