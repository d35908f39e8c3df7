"""Fixtures the broker tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.pipeline import Pipeline
from tests.support import SinkProcess


@pytest.fixture
async def with_sink(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Pipeline, SinkProcess]]:
    """A worker on the test's own topics, and the ClickHouse sink reading its outputs."""
    sink = SinkProcess(kafka_bootstrap, unique_id, tmp_path / "sink", tmp_path / "sink.log")
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        sink.start()
        try:
            yield p, sink
        finally:
            sink.process.stop()
