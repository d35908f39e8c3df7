"""State recovery: a worker holding N accounts' state, each with a position from one filled order,
starts on an empty disk; how long until it processes again, and the changelog records restored
per second over that time. It does so twice in one run: with the worker's bulk restore
(`worker/restore.py`) and with Faust's own restore alone (`bench/apps/faust_restore_worker.py`).

`python -m bench.recovery [accounts]` prints a table and writes bench/results/recovery.json.
Uses FILLSTREAM_KAFKA_BOOTSTRAP, else a local broker. Each restarting worker is sampled with
py-spy (bench.profile), to say where the time goes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench import harness
from bench.profile import Sampler
from bench.throughput import env_for, preload, stop
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings

REPO = Path(__file__).resolve().parent.parent
INSTRUMENT = json.dumps({"symbol": "BTC", "kind": "crypto", "taker_fee_bps": "5",
                         "maker_fee_bps": "1", "slippage_bps": "0"}).encode()  # fmt: skip
PROBE = b'{"account_id": "probe", "starting_balance": "1"}'
TICK = b'{"symbol": "BTC", "price": "100", "ts": "2026-01-01T00:00:00Z"}'
ORDER = (b'{"order_id": "o%d", "account_id": "a%d", "symbol": "BTC", "side": "buy", '
         b'"type": "market", "quantity": "1"}')  # fmt: skip


WORKER = [sys.executable, "-m", "fillstream.cli", "worker", "--loglevel", "info"]
FAUST_RESTORE_WORKER = [sys.executable, "-m", "bench.apps.faust_restore_worker"]
BULK_RESTORED = re.compile(rb"restored (\d+) changelog records in ([\d.]+)s")


def start(env: dict, log: Path, command: list[str] = WORKER) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=env, cwd=REPO,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


async def wait_for_events(bootstrap: str, topic: str, count: int, timeout: float) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"saw {seen} of {count} events on {topic}")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += len(records)
    finally:
        await consumer.stop()


async def changelog_records(bootstrap: str, app_id: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(f"{app_id}-") and
                 t.endswith("-changelog")]  # fmt: skip
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for name in names for p in range(4)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return sum(ends.values())


async def measure(bootstrap: str, accounts: int, work: Path) -> dict:
    prefix = f"r{uuid.uuid4().hex[:6]}."
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), 4)
    messages = (
        (f"a{n}", json.dumps({"account_id": f"a{n}", "starting_balance": "1000"}).encode())
        for n in range(accounts)
    )
    await preload(bootstrap, settings.topic("accounts"), messages)
    await preload(bootstrap, settings.topic("instruments"), [("BTC", INSTRUMENT)])
    await preload(bootstrap, settings.topic("ticks"), [("BTC", TICK)])
    env = env_for(bootstrap, prefix, work / "worker")
    env["FILLSTREAM_TABLE_STANDBY_REPLICAS"] = "0"
    process = start(env, work / "worker.log")
    try:
        await wait_for_events(bootstrap, settings.topic("risk_events"), accounts, 900)
        orders = ((f"a{n}", ORDER % (n, n)) for n in range(accounts))
        await preload(bootstrap, settings.topic("orders"), orders)
        await wait_for_events(bootstrap, settings.topic("fills"), accounts, 1800)
    finally:
        stop(process)
    records = await changelog_records(bootstrap, env["FILLSTREAM_APP_ID"])
    probes = 0
    results = {}
    for name, command in (("bulk", WORKER), ("faust", FAUST_RESTORE_WORKER)):
        shutil.rmtree(work / "worker" / "faust")
        log = work / f"restart-{name}.log"
        started = time.monotonic()
        process = start(env, log, command)
        try:
            with Sampler(process.pid, work, f"restoring-worker-{name}") as sampler:
                probes += 1
                probe = PROBE.replace(b"probe", b"probe%d" % probes)
                await preload(bootstrap, settings.topic("accounts"), [(f"probe{probes}", probe)])
                await wait_for_events(
                    bootstrap, settings.topic("risk_events"), accounts + probes, 900
                )
                elapsed = time.monotonic() - started
        finally:
            stop(process)
        bulk = BULK_RESTORED.search(log.read_bytes())
        results[name] = {
            "seconds_until_processing": round(elapsed, 1),
            "restored_records_per_second": round(records / elapsed),
            "bulk_restored_records": int(bulk[1]) if bulk else 0,
            "bulk_restore_seconds": float(bulk[2]) if bulk else 0.0,
            "profile": sampler.summary(),
        }
    return {
        "accounts": accounts,
        "changelog_records": records,
        **results,
        "speedup": round(
            results["faust"]["seconds_until_processing"]
            / results["bulk"]["seconds_until_processing"],
            1,
        ),
    }


def main() -> None:
    accounts = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    harness.run("recovery", lambda bootstrap, work: measure(bootstrap, accounts, work))


if __name__ == "__main__":
    main()
