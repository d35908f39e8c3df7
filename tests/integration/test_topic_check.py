"""Topics that survive a broker, and topics a worker cannot run on: created with the configured
replication, checked at start, and a mismatch stops a worker with one line saying what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from fillstream.broker.admin import TopicMismatch, TopicSpec, ensure_topics
from fillstream.broker.connection import Kafka
from tests.support import worker_env


async def test_created_with_their_replication_and_checked_once_they_exist(
    kafka_bootstrap: str, unique_id: str
) -> None:
    orders, programs = TopicSpec(f"{unique_id}.orders"), TopicSpec(f"{unique_id}.programs", True)
    assert await ensure_topics(Kafka(kafka_bootstrap), [orders, programs], 4, 1, 1) == [
        orders.name, programs.name]  # fmt: skip
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([
            ConfigResource(ConfigResourceType.TOPIC, programs.name,
                           {"cleanup.policy": None, "min.insync.replicas": None})
        ])  # fmt: skip
    finally:
        await admin.close()
    (resource,) = response.resources
    assert {entry[0]: entry[1] for entry in resource[4]} == {
        "cleanup.policy": "compact", "min.insync.replicas": "1"}  # fmt: skip
    assert await ensure_topics(Kafka(kafka_bootstrap), [orders, programs], 4) == []
    # One broker holds one replica of each: a cluster that asks for three is told so.
    with pytest.raises(TopicMismatch) as raised:
        await ensure_topics(Kafka(kafka_bootstrap), [orders], 4, replication=3)
    assert str(raised.value) == (
        f"{orders.name} has 1 replicas where FILLSTREAM_TOPIC_REPLICATION_FACTOR is 3: "
        "reassign its partitions (kafka-reassign-partitions)"
    )


async def test_a_worker_does_not_start_on_topics_it_cannot_run_on(
    kafka_bootstrap: str, unique_id: str, data_dir: Path
) -> None:
    await ensure_topics(Kafka(kafka_bootstrap), [TopicSpec(f"{unique_id}.orders")], 2)
    await ensure_topics(Kafka(kafka_bootstrap), [TopicSpec(f"{unique_id}.programs")], 4)
    env = worker_env(kafka_bootstrap, data_dir, unique_id, f"{unique_id}.")
    done = subprocess.run(
        [sys.executable, "-m", "fillstream.cli", "worker"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"fillstream worker: {unique_id}.orders has 2 partitions where FILLSTREAM_TOPIC_PARTITIONS"
        " is 4 (every topic must have the same count): recreate it, or set the setting to match "
        f"if every topic has 2; {unique_id}.programs is not compacted (cleanup.policy=delete): "
        f"kafka-configs --alter --entity-type topics --entity-name {unique_id}.programs "
        "--add-config cleanup.policy=compact"
    ]
