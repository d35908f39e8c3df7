"""In-process stand-ins for what a worker gets from Faust: topics that record what is sent.
Tables are plain dicts (`Tables.in_memory`)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from fillstream.worker.inputs import Input

RECORD_TIME = 1_775_037_600.0  # 2026-04-01T10:00:00Z


@dataclass
class Sent:
    key: bytes | None
    value: dict
    partition: int | None


@dataclass
class FakeTopic:
    name: str
    sent: list[Sent] = field(default_factory=list)

    def get_topic_name(self) -> str:
        return self.name

    async def send(
        self, *, key: bytes | None = None, value: bytes, partition: int | None = None
    ) -> asyncio.Future:
        """Delivered at once."""
        self.sent.append(Sent(key, json.loads(value), partition))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered

    def values(self) -> list[dict]:
        return [sent.value for sent in self.sent]


class Inputs:
    """Input records as Kafka would deliver them: offsets counted per topic."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self._offsets: dict[str, itertools.count] = {}

    def record(self, topic: str, key: str | None, value: Any, offset: int | None = None) -> Input:
        counter = self._offsets.setdefault(topic, itertools.count())
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return Input(
            topic,
            self.partition,
            next(counter) if offset is None else offset,
            key.encode() if key is not None else None,
            raw,
            RECORD_TIME,
        )
