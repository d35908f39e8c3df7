"""A bad message is logged with the record it came from, and processing goes on."""

from __future__ import annotations

import logging

import pytest

from tests.unit.worker.test_execution import Worker


async def test_a_dead_letter_is_logged_with_its_account_and_place(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(tmp_path)
    with caplog.at_level(logging.INFO, logger="fillstream.worker.dead_letters"):
        await worker.handle(worker.inputs.record("orders", "ann", b"{oops"))
    (logged,) = caplog.records
    assert logged.getMessage().startswith("dead letter: ")
    assert (logged.account_id, logged.topic, logged.partition, logged.offset) == (
        "ann", "orders", 0, 0)  # fmt: skip
    assert len(worker.topics["dead-letters"].sent) == 1
