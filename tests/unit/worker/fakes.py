"""In-process stand-ins for what a worker gets from Faust: topics that record what is sent.
Tables are plain dicts (`Tables.in_memory`)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from fillstream.worker import producer
from fillstream.worker.inputs import Input
from fillstream.worker.producer import Record

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

    def values(self) -> list[dict]:
        return [sent.value for sent in self.sent]


class FakeTable:
    """What a changelog write needs of a Faust table: its changelog topic's codecs, and a store
    that remembers the offset it holds up to."""

    def __init__(self, name: str) -> None:
        self.changelog_topic = SimpleNamespace(
            get_topic_name=lambda: name,
            prepare_key=lambda key, serializer: (key.encode(), None),
            prepare_value=lambda value, serializer: (value.encode(), None),
        )
        self.persisted: dict[int, int] = {}
        self.data = SimpleNamespace(
            set_persisted_offset=lambda tp, offset: self.persisted.__setitem__(tp.partition, offset)
        )


class FakeProducer:
    """Sends records to fake topics, each acknowledged at once."""

    def __init__(self, topics: dict[str, FakeTopic]) -> None:
        self.topics = topics

    async def send(self, records: Iterable[Record]) -> producer.Sent:
        for record in records:
            assert record.value is not None
            self.topics[record.topic].sent.append(
                Sent(record.key, json.loads(record.value), record.partition)
            )
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return producer.Sent([(TopicPartition("", 0), 0, delivered)])


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
