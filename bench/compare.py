"""Before and after, side by side in one run: the worker and the sink of an earlier commit against
the current tree, on the same broker: each draining the same backlogs as bench.throughput,
bench.peers (the pipeline's orders) and bench.sink (with the records each worker wrote to its
accounts changelog), and each worker under the same live load as a bench.sustained step.

`python -m bench.compare REF [orders] [fills]` exports REF with `git archive` into the work
directory, runs both versions one after the other, prints a table and writes
bench/results/compare.json.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from bench import harness, peers, sink
from bench.latency import start_pipeline
from bench.sustained import step
from bench.throughput import REPO, TICKS_PER_ORDER, pipeline, stop
from fillstream.broker.connection import Kafka

# The live comparison: a load the current worker keeps up with (bench.sustained).
LIVE_ORDERS = 100
LIVE_SECONDS = 60
# The peers' job (bench.peers): orders over 10 000 accounts, drained as a backlog.
PEER_ORDERS = 20_000


async def changelog_records(bootstrap: str, topic: str) -> int:
    """Records the worker wrote to a table's changelog: what a restore from it reads back."""
    kafka = Kafka(bootstrap)
    partitions = await kafka.partitions(topic)
    consumer = kafka.consumer(group_id=None)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def export(ref: str, work: Path) -> Path:
    target = work / "before"
    target.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


async def live(bootstrap: str, prefix: str, code: Path, work: Path) -> float:
    """How far behind a worker is after LIVE_SECONDS of LIVE_ORDERS orders/s (4 ticks each)."""
    running = await start_pipeline(bootstrap, prefix, work, code)
    inputs = {running.settings.topic("ticks"), running.settings.topic("orders")}
    try:
        figures = await step(
            bootstrap, prefix, prefix.rstrip("."), inputs, LIVE_ORDERS, LIVE_SECONDS
        )
    finally:
        await running.close()
        stop(running.worker)
    return figures["seconds_behind_at_end"]


async def measure(bootstrap: str, ref: str, orders: int, fills: int, work: Path) -> dict:
    before = export(ref, work)
    run = uuid.uuid4().hex[:6]
    result: dict = {"before": ref, "orders": orders, "ticks": orders * TICKS_PER_ORDER}
    for name, code in (("before", before), ("after", REPO)):
        prefix = f"c{run}{name}."
        rate = await pipeline(bootstrap, prefix, orders, work, code)
        result[f"pipeline_records_per_second_{name}"] = round(rate)
        result[f"accounts_changelog_records_{name}"] = await changelog_records(
            bootstrap, f"{prefix.rstrip('.')}-account-state-changelog"
        )
    for name, code in (("before", before), ("after", REPO)):
        rate = await peers.pipeline(bootstrap, f"c{run}{name}p.", PEER_ORDERS, work, code=code)
        result[f"peers_job_orders_per_second_{name}"] = round(rate)
    for name, code in (("before", before), ("after", REPO)):
        result[f"live_seconds_behind_{name}"] = await live(bootstrap, f"c{run}{name}l.", code, work)
    for name, code in (("before", before), ("after", REPO)):
        figures = await sink.measure(bootstrap, fills, work / f"sink-{name}", code)
        result[f"sink_rows_per_second_{name}"] = figures["backlog_rows_per_second"]
    result["pipeline_after_over_before"] = round(
        result["pipeline_records_per_second_after"] / result["pipeline_records_per_second_before"],
        2,
    )
    result["peers_job_after_over_before"] = round(
        result["peers_job_orders_per_second_after"] / result["peers_job_orders_per_second_before"],
        2,
    )
    result["sink_after_over_before"] = round(
        result["sink_rows_per_second_after"] / result["sink_rows_per_second_before"], 2
    )
    return result


def main() -> None:
    ref = sys.argv[1]
    orders = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    fills = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    harness.run("compare", lambda bootstrap, work: measure(bootstrap, ref, orders, fills, work))


if __name__ == "__main__":
    main()
