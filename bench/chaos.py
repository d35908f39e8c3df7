"""The long chaos run: two workers and the sink under steady orders and ticks; a worker killed
with kill -9 every few seconds (half of the time with its disk wiped), the sink killed now and
then and once kept down for a minute, and the broker stopped and started once. Then every output
topic is read from the beginning (read_committed) and checked, and ClickHouse is compared with
the fills topic.

`python -m bench.chaos [kills] [interval-seconds] [orders-per-second]` prints a table and writes
bench/results/chaos.json. It starts its own broker (the broker bounce needs it).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from fillstream.broker import local as localkafka
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.sink.http import ask
from tests.chaos import Cluster, Load, failover_seconds, output_topics, read_all, verify
from tests.support import ADMIN_KEY, Upstream, WorkerProcess

RESULTS = Path(__file__).resolve().parent / "results"
SINK_OUTAGE_SECONDS = 60.0


async def chaos(work: Path, kills: int, interval: float, rate: float) -> dict:
    broker = await asyncio.to_thread(localkafka.start, work / "kafka", 0)
    bootstrap = broker.bootstrap
    app_id = "chaos"
    settings = Settings(topic_prefix=f"{app_id}.", kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), settings.topic_partitions)
    # Failover tuned to seconds, as "Failover" in docs/benchmarks.md measures it.
    cluster = Cluster(bootstrap, app_id, work, workers=2, sink_api_key=ADMIN_KEY,
                      kafka_session_timeout_seconds="2", kafka_heartbeat_seconds="0.5")  # fmt: skip
    sink_env = {**cluster.workers[0].env, "FILLSTREAM_DATA_DIR": str(work / "sink")}
    sink_port = int(sink_env["FILLSTREAM_WEB_PORT"]) + 1
    sink_env["FILLSTREAM_SINK_PORT"] = str(sink_port)
    sink = WorkerProcess([sys.executable, "-m", "fillstream.cli", "sink"], sink_env,
                         work / "sink.log")  # fmt: skip
    load = Load(settings, [f"acc-{n}" for n in range(64)], seed=5, orders_per_second=rate,
                ticks_per_second=rate / 2)  # fmt: skip
    rng = random.Random(17)
    seconds = kills * interval
    events: list[dict] = []
    cluster.start()
    sink.start()
    started = time.monotonic()
    try:
        async with Upstream(bootstrap) as upstream:
            await load.open(upstream, bootstrap)
            running = asyncio.create_task(load.run(upstream, seconds))
            bounce_at, outage_at = kills // 2, kills // 3
            sink_back_at: float | None = None
            for n in range(kills):
                await asyncio.sleep(rng.uniform(0.5, 1.5) * interval)
                victim = rng.randrange(2)
                cluster.kill(victim, wipe=rng.random() < 0.5)
                await asyncio.sleep(rng.uniform(0.2, 1.5))
                cluster.workers[victim].start()
                if sink_back_at is not None and time.monotonic() >= sink_back_at:
                    sink.start()
                    sink_back_at = None
                if n == outage_at:
                    sink.kill()
                    sink_back_at = time.monotonic() + SINK_OUTAGE_SECONDS
                    events.append({"sink_down_for": SINK_OUTAGE_SECONDS, "at_kill": n})
                elif n % 10 == 5 and sink_back_at is None:
                    sink.kill()
                    sink.start()
                    events.append({"sink_killed_at_kill": n})
                if n == bounce_at:
                    await asyncio.to_thread(localkafka.stop, work / "kafka")
                    await asyncio.sleep(3)
                    await asyncio.to_thread(localkafka.start, work / "kafka", broker.port)
                    events.append({"broker_bounced_at_kill": n})
            await running
        if sink_back_at is not None:
            await asyncio.sleep(max(0.0, sink_back_at - time.monotonic()))
            sink.start()
        sent = len(load.sent_orders)
        outputs = output_topics(settings)
        deadline = time.monotonic() + 600
        while True:
            records = await read_all(bootstrap, outputs)
            opened = {
                event.value["order_id"]
                for event in records[outputs[1]]
                if event.value["status"] in ("accepted", "rejected")
            }
            if len(opened & set(load.sent_orders)) == sent or time.monotonic() > deadline:
                break
            await asyncio.sleep(5)
        verdict = verify(settings, load.sent_orders, records)
        stalls = failover_seconds(cluster.kills, records[outputs[1]])
        fills = {fill.value["fill_id"]: fill.value for fill in records[outputs[0]]}
        clickhouse = await _clickhouse_fills(sink_port, len(fills))
        differing = [
            fill_id
            for fill_id, fill in fills.items()
            if clickhouse.get(fill_id) != (Decimal(fill["price"]), Decimal(fill["cash_after"]))
        ]
    finally:
        cluster.stop()
        sink.stop()
        await asyncio.to_thread(localkafka.stop, work / "kafka")
    return {
        "kills": len(cluster.kills),
        "wiped": sum(kill["wiped"] for kill in cluster.kills),
        "seconds": round(time.monotonic() - started),
        **verdict.summary(),
        "commands": load.commands,
        "failover_seconds_median": sorted(stalls)[len(stalls) // 2] if stalls else None,
        "failover_seconds_max": max(stalls, default=None),
        "failover_seconds": [
            {**kill, "stall": stall} for kill, stall in zip(cluster.kills, stalls, strict=True)
        ],
        "clickhouse_rows": len(clickhouse),
        "clickhouse_differing_or_missing": len(differing),
        "clickhouse_extra": len(set(clickhouse) - set(fills)),
        "events": events,
    }


async def _clickhouse_fills(port: int, expected: int) -> dict[str, tuple[Decimal, Decimal]]:
    """fill_id -> (price, cash_after) as analysts see them, once the sink has caught up."""
    query = "SELECT fill_id, toString(price), toString(cash_after) FROM trades FINAL"
    rows: dict[str, tuple[Decimal, Decimal]] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            answer = await asyncio.to_thread(ask, f"http://127.0.0.1:{port}", query, ADMIN_KEY)
            rows = {r[0]: (Decimal(r[1]), Decimal(r[2])) for r in answer["rows"]}
        except OSError:
            pass
        if len(rows) >= expected:
            return rows
        await asyncio.sleep(2)
    return rows


def main() -> None:
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    work = Path(tempfile.mkdtemp(prefix="fillstream-chaos-"))
    result = asyncio.run(chaos(work, kills, interval, rate))
    for key, value in result.items():
        print(f"{key:<36} {value!s:>14}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    sys.exit(0 if result["conflicting"] == result["lost"] == result["chain_breaks"] == 0 else 1)


if __name__ == "__main__":
    main()
