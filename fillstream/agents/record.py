"""The unit every agent processes: one input message with its Kafka coordinates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    """One input message, whether Faust delivered it or it was read back after a skip."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float

    @property
    def progress_key(self) -> str:
        return f"{self.topic}#{self.partition}"
