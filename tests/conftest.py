"""One real Kafka broker per test session (or the cluster FILLSTREAM_KAFKA_BOOTSTRAP names)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fillstream.broker import local


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the broker is marked ``kafka``: ``pytest -m "not kafka"`` runs the
    rest in seconds."""
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("FILLSTREAM_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    data_dir = tmp_path_factory.mktemp("kafka")
    state = local.start(data_dir, port=0, heap="512m")
    try:
        yield state.bootstrap
    finally:
        local.stop(data_dir)


@pytest.fixture
def unique_id() -> str:
    """A fresh app id and topic prefix per test, so tests share the broker and nothing else."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "var"
