"""Creates the pipeline's topics before a worker subscribes, with the partitions, replication and
cleanup policy they need; existing topics are checked, and one the pipeline cannot run on
(another partition count, fewer replicas, not compacted where the contract keeps the latest value
per key) stops it with a line that says what to fix."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.wire.topics import CONTRACT

LEADER_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False


class TopicMismatch(Exception):
    """Existing topics the pipeline cannot run on; the message says what to fix, on one line."""


async def ensure_topics(
    kafka: Kafka,
    specs: Iterable[TopicSpec],
    partitions: int,
    replication: int = 1,
    min_insync: int = 1,
) -> list[str]:
    """Create the missing topics and check the others; return the names created."""
    specs = list(specs)
    admin = kafka.admin()
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        spec.name,
                        partitions,
                        replication,
                        topic_configs={
                            "min.insync.replicas": str(min_insync),
                            **({"cleanup.policy": "compact"} if spec.compacted else {}),
                        },
                    )
                    for spec in missing
                ]
            )
            await _wait_for_leaders(admin, [spec.name for spec in missing])
        found = [spec for spec in specs if spec.name in existing]
        if found:
            await _check(admin, found, partitions, replication)
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def _check(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], partitions: int, replication: int
) -> None:
    """Every partition p of every topic is one unit of work (co-partitioned), so the counts must
    all be equal; a compacted topic keeps the latest value per key, so it must stay compacted."""
    problems = []
    names = [spec.name for spec in specs]
    described = {d["topic"]: d for d in await admin.describe_topics(names)}
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None}) for name in names
    ]
    policies = {
        resource[3]: dict((entry[0], entry[1]) for entry in resource[4])
        for response in await admin.describe_configs(resources)
        for resource in response.resources
    }
    for spec in specs:
        found = described[spec.name]["partitions"]
        if len(found) != partitions:
            problems.append(
                f"{spec.name} has {len(found)} partitions where FILLSTREAM_TOPIC_PARTITIONS is "
                f"{partitions} (every topic must have the same count): recreate it, or set the "
                f"setting to match if every topic has {len(found)}"
            )
        replicas = min((len(p["replicas"]) for p in found), default=replication)
        if replicas < replication:
            problems.append(
                f"{spec.name} has {replicas} replicas where FILLSTREAM_TOPIC_REPLICATION_FACTOR "
                f"is {replication}: reassign its partitions (kafka-reassign-partitions)"
            )
        policy = policies.get(spec.name, {}).get("cleanup.policy") or ""
        if spec.compacted and "compact" not in policy:
            problems.append(
                f"{spec.name} is not compacted (cleanup.policy={policy}): kafka-configs --alter "
                "--entity-type topics --entity-name "
                f"{spec.name} --add-config cleanup.policy=compact"
            )
    if problems:
        raise TopicMismatch("; ".join(problems))


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """A topic just created has no leader for a moment; a client subscribing then would see no
    partitions and stay unassigned until its next metadata refresh."""
    deadline = time.monotonic() + LEADER_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        descriptions = await admin.describe_topics(names)
        if all(
            description["error_code"] == 0
            and description["partitions"]
            and all(partition["leader"] >= 0 for partition in description["partitions"])
            for description in descriptions
        ):
            return
        await asyncio.sleep(0.1)


def pipeline_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the contract, by its configured name."""
    return [
        TopicSpec(settings.topic(contract.name), compacted=contract.compacted)
        for contract in CONTRACT
    ]
