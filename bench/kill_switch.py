"""The kill switch: two workers under steady orders and ticks; a firm-wide halt is sent, then a
resume, several times. For each halt, how long from the control message to the moment each
partition refuses orders: the time between the control's record and each partition's audit
record of it (both create times, one clock). A partition publishes its audit once the halt is
durable in its changelog, so this bounds from above when it started refusing. The run also
checks that no order was accepted on a partition between its audit of a halt and the resume.

`python -m bench.kill_switch [halts]` prints the figures and writes
bench/results/kill_switch.json. Uses FILLSTREAM_KAFKA_BOOTSTRAP, else a local broker.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from bench import harness
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from tests.chaos import Cluster, Load, read_all
from tests.support import Upstream

ORDERS_PER_SECOND = 100.0
TICKS_PER_SECOND = 50.0
WARM_UP_SECONDS = 15.0
HALTED_SECONDS = 3.0
ACTIVE_SECONDS = 4.0
TUNED = {"kafka_session_timeout_seconds": "2", "kafka_heartbeat_seconds": "0.5"}


async def measure(bootstrap: str, work: Path, halts: int) -> dict:
    app_id = f"kill-switch-{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=f"{app_id}.", kafka_bootstrap=bootstrap)
    partitions = settings.topic_partitions
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), partitions)
    cluster = Cluster(bootstrap, app_id, work, workers=2, **TUNED)
    accounts = [f"acc-{n}" for n in range(32)]
    load = Load(settings, accounts, orders_per_second=ORDERS_PER_SECOND,
                ticks_per_second=TICKS_PER_SECOND)  # fmt: skip
    sent: list[tuple[float, float]] = []
    """Per halt: the halt's and the resume's record times, in seconds."""
    cluster.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        async with Upstream(bootstrap) as upstream:
            await load.open(upstream, bootstrap)
            await producer.start()
            seconds = WARM_UP_SECONDS + halts * (HALTED_SECONDS + ACTIVE_SECONDS) + 5
            running = asyncio.create_task(load.run(upstream, seconds))
            await asyncio.sleep(WARM_UP_SECONDS)
            for _ in range(halts):
                halt = await control(producer, settings, "halt")
                await asyncio.sleep(HALTED_SECONDS)
                sent.append((halt, await control(producer, settings, "resume")))
                await asyncio.sleep(ACTIVE_SECONDS)
            await running
        topics = [settings.topic("risk_events"), settings.topic("order_events")]
        records = await read_all(bootstrap, topics, partitions)
    finally:
        await producer.stop()
        cluster.stop()
    halted: dict[str, dict[int, float]] = {}
    """Per halt (by its ts): each partition's audit record time."""
    for record in records[settings.topic("risk_events")]:
        event = record.value
        firm_halt = ("control", "~firm", "halt")
        if (event["type"], event["account_id"], event.get("action")) == firm_halt:
            partition = int(event["detail"].split(":")[0].removeprefix("partition "))
            halted.setdefault(event["ts"], {}).setdefault(partition, record.timestamp)
    audits = [halted[ts] for ts in sorted(halted)]
    assert len(audits) == halts and all(len(a) == partitions for a in audits), audits
    latencies = [
        [audit[p] - halt for p in range(partitions)]
        for audit, (halt, _resume) in zip(audits, sent, strict=True)
    ]
    accepted_while_halted = 0
    for record in records[settings.topic("order_events")]:
        event = record.value
        if event["status"] != "accepted":
            continue
        partition = (murmur2(event["account_id"].encode()) & 0x7FFFFFFF) % partitions
        accepted_while_halted += sum(
            audit[partition] < record.timestamp < resume
            for audit, (_halt, resume) in zip(audits, sent, strict=True)
        )
    last = [max(per_partition) for per_partition in latencies]
    return {
        "halts": halts,
        "orders_per_second": ORDERS_PER_SECOND,
        "ticks_per_second": TICKS_PER_SECOND,
        "workers": 2,
        "partitions": partitions,
        "last_partition_ms_median": round(statistics.median(last) * 1000, 1),
        "last_partition_ms_max": round(max(last) * 1000, 1),
        "first_partition_ms_median": round(statistics.median(min(p) for p in latencies) * 1000, 1),
        "orders_accepted_while_halted": accepted_while_halted,
        "per_halt_ms": [[round(s * 1000, 1) for s in per] for per in latencies],
    }


async def control(producer: AIOKafkaProducer, settings: Settings, action: str) -> float:
    """Send a firm-wide control; its record's create time, in seconds."""
    value = json.dumps({"action": action, "operator": "bench"}).encode()
    metadata = await producer.send_and_wait(
        settings.topic("firm_controls"), key=b"firm", value=value
    )
    return metadata.timestamp / 1000


def main() -> None:
    halts = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    harness.run("kill_switch", lambda bootstrap, work: measure(bootstrap, work, halts))


if __name__ == "__main__":
    main()
