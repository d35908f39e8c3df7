"""Creates the pipeline's topics before a worker subscribes, with the partitions and cleanup policy
the contract gives them; existing topics are left as they are."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from fillstream.settings import Settings
from fillstream.wire.topics import CONTRACT

LEADER_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], partitions: int, replication: int = 1
) -> list[str]:
    """Create the missing topics; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
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
                        topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
                    )
                    for spec in missing
                ]
            )
            await _wait_for_leaders(admin, [spec.name for spec in missing])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


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
