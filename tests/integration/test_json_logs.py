"""JSON log lines for a log shipper: a worker started with FILLSTREAM_LOG_FORMAT=json writes
nothing but JSON objects, one per line, and a dead letter's line names its account and place."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from tests.support import WorkerProcess, worker_env


async def test_a_worker_logs_json_lines_with_the_record_they_are_about(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    prefix = f"{unique_id}."
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=kafka_bootstrap)
    await ensure_topics(
        Kafka(kafka_bootstrap), pipeline_topics(settings), settings.topic_partitions
    )
    env = worker_env(kafka_bootstrap, data_dir, unique_id, prefix, log_format="json")
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "fillstream.cli", "worker", "--loglevel", "info"]
    worker = WorkerProcess(command, env, log).start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(settings.topic("orders"), b"{oops", key=b"ann")
        finally:
            await producer.stop()
        deadline = time.monotonic() + 120
        while "dead letter" not in log.read_text():
            assert time.monotonic() < deadline and not worker.exited, worker.log_tail()
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    (dead,) = [line for line in lines if line["message"].startswith("dead letter")]
    assert (dead["level"], dead["account_id"], dead["topic"], dead["offset"]) == (
        "info", "ann", settings.topic("orders"), 0)  # fmt: skip
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
