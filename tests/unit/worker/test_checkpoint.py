"""The checkpoint's order: outputs leave only once the batch's state is acknowledged, and the
progress is written only once every output is."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from fillstream.core.engine import open_account
from fillstream.core.model import AccountLimits
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output, StoredAccount, dump_stored, load_stored
from tests.unit.worker.fakes import FakeTopic


class SlowTopic(FakeTopic):
    """Acknowledges a send only when told to."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.pending: list[asyncio.Future] = []

    async def send(self, **kwargs) -> asyncio.Future:
        await super().send(**kwargs)
        delivered = asyncio.get_running_loop().create_future()
        self.pending.append(delivered)
        return delivered


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_outputs_wait_for_the_state_and_progress_waits_for_the_outputs() -> None:
    fills = SlowTopic("fills")
    checkpoint = Checkpoint({"fills": fills})
    checkpoint.publish([Output("fills", b"ann", b'{"fill_id": "ann#1"}')])
    state_write = asyncio.get_running_loop().create_future()
    progress: list[str] = []
    commit = asyncio.create_task(
        checkpoint.commit([state_write], lambda: progress.append("stored"))
    )

    await asyncio.sleep(0.05)  # time for the commit to run ahead, if it would
    assert fills.sent == [] and progress == []
    state_write.set_result(None)
    await until(lambda: fills.sent)
    assert [sent.value for sent in fills.sent] == [{"fill_id": "ann#1"}]
    assert progress == []
    fills.pending[0].set_result(None)
    await commit
    assert progress == ["stored"]


async def test_an_output_that_fails_is_sent_again_until_acknowledged() -> None:
    fills = SlowTopic("fills")
    checkpoint = Checkpoint({"fills": fills})
    checkpoint.publish([Output("fills", b"ann", b'{"fill_id": "ann#1"}')])
    commit = asyncio.create_task(checkpoint.commit([], lambda: None))
    await until(lambda: fills.pending)
    fills.pending[0].set_exception(ConnectionError("broker away"))
    await until(lambda: len(fills.pending) == 2)
    fills.pending[1].set_result(None)
    await commit
    assert [sent.value for sent in fills.sent] == [{"fill_id": "ann#1"}] * 2


def test_an_account_document_keeps_its_applied_offsets_and_owed_outputs() -> None:
    account = open_account(
        "ann", Decimal(1000), AccountLimits(Decimal(1), Decimal(100), Decimal(10))
    )
    stored = StoredAccount(account, {"orders#0": 7}, [Output("fills", b"ann", b'{"x": "1"}')])
    loaded = load_stored(dump_stored(stored))
    assert loaded.applied == {"orders#0": 7}
    assert loaded.outbox == [Output("fills", b"ann", b'{"x": "1"}')]
    assert loaded.has_applied("orders#0", 7) and not loaded.has_applied("orders#0", 8)
    assert loaded.account.cash == Decimal(1000)
