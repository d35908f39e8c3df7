"""Two workers under steady load die again and again: each kills itself (SIGKILL) at a random
phase of a random checkpoint (state half written, state durable and nothing sent, outputs half
sent, outputs sent and progress not written), and kill -9 comes from outside too; half of the
restarts are on a wiped disk. No output may conflict with another, none may be lost, and every
account's cash chain must hold. The long run is bench/chaos.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from pathlib import Path

from fillstream.settings import Settings
from tests.chaos import (
    WORKER,
    Cluster,
    Load,
    crashing_worker,
    failover_seconds,
    output_topics,
    read_all,
    verify,
)
from tests.support import Downstream, Upstream

LOAD_SECONDS = float(os.environ.get("FILLSTREAM_CHAOS_SECONDS", "45"))
OUTSIDE_KILLS = int(os.environ.get("FILLSTREAM_CHAOS_KILLS", "2"))
RATE = float(os.environ.get("FILLSTREAM_CHAOS_RATE", "60"))


async def test_workers_dying_at_every_phase_of_a_checkpoint_fork_no_history(
    kafka_bootstrap: str, unique_id: str, tmp_path: Path
) -> None:
    settings = Settings(topic_prefix=f"{unique_id}.", kafka_bootstrap=kafka_bootstrap)
    # Failover tuned to seconds, as docs/benchmarks.md ("Failover") measures it.
    cluster = Cluster(kafka_bootstrap, unique_id, tmp_path, workers=2, command=crashing_worker(3),
                      kafka_session_timeout_seconds="2", kafka_heartbeat_seconds="0.5")  # fmt: skip
    load = Load(settings, [f"acc-{n}" for n in range(16)], seed=3, orders_per_second=RATE,
                ticks_per_second=RATE / 2)  # fmt: skip
    rng = random.Random(11)
    cluster.start()
    try:
        async with Upstream(kafka_bootstrap) as upstream:
            await load.open(upstream, kafka_bootstrap)
            supervisor = asyncio.create_task(cluster.supervise(rng))
            running = asyncio.create_task(load.run(upstream, LOAD_SECONDS))
            for _ in range(OUTSIDE_KILLS):
                await asyncio.sleep(rng.uniform(5, LOAD_SECONDS / OUTSIDE_KILLS))
                cluster.kill(rng.randrange(2), wipe=rng.random() < 0.5)
            await running
            supervisor.cancel()
        cluster.replace(WORKER)

        sent = set(load.sent_orders)
        async with Downstream(kafka_bootstrap, settings.topic("order_events")) as events:
            with contextlib.suppress(AssertionError):  # what never came, the verdict names
                await events.poll_until(lambda records: _opened(records) >= sent, timeout=90)
        records = await read_all(kafka_bootstrap, output_topics(settings))
        market_data = await read_all(kafka_bootstrap, [settings.topic("market_data")])
    finally:
        cluster.stop()

    verdict = verify(settings, load.sent_orders, records)
    crashes = [kill for kill in cluster.kills if kill["how"] == "crashed"]
    stalls = failover_seconds(cluster.kills, records[settings.topic("order_events")])
    print("chaos:", verdict.summary(), "deaths:", len(cluster.kills), "stalls:", stalls)
    assert verdict.clean, (verdict.summary(), cluster.log_tails())
    assert len(crashes) >= 2, "the workers must have crashed mid-checkpoint"
    # Each takeover wakes its partitions (`execution.Wake`), so owed outputs leave unprompted.
    woken = {batch.partition for batch in market_data[settings.topic("market_data")]
             if batch.value == {"updates": []}}  # fmt: skip
    assert woken == {0, 1, 2, 3}
    # Of the messages sent, a tenth or so cancel or replace limit and stop orders.
    assert verdict.orders + load.commands >= LOAD_SECONDS * RATE * 0.9
    assert load.commands > 0 and verdict.fills > verdict.orders / 3


def _opened(records: list) -> set[str]:
    return {
        event["order_id"]
        for event in (json.loads(record.value) for record in records)
        if event["status"] in ("accepted", "rejected")
    }
