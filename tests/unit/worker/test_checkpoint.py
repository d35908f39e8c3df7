"""The checkpoint's order: outputs leave only once the batch's state is acknowledged, and the
progress is written only once every output is (and waited for by the next checkpoint)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from aiokafka import TopicPartition

from fillstream.core.engine import open_account
from fillstream.core.model import AccountLimits
from fillstream.worker import producer
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output, StoredAccount, dump_stored, load_stored
from fillstream.worker.faust_adapter import ChangelogWrites
from fillstream.worker.producer import Record
from tests.unit.worker.fakes import FakeTable


class SlowProducer:
    """Acknowledges each send only when told to, at the offsets a broker would give."""

    def __init__(self) -> None:
        self.sent: list[list[Record]] = []
        self.pending: list[asyncio.Future] = []

    async def send(self, records) -> producer.Sent:
        records = list(records)
        self.sent.append(records)
        batches = []
        for record in records:
            tp = TopicPartition(record.topic, record.partition or 0)
            acknowledged = asyncio.get_running_loop().create_future()
            self.pending.append(acknowledged)
            batches.append((tp, 1, acknowledged))
        return producer.Sent(batches)

    def acknowledge(self, count: int) -> None:
        for future in [f for f in self.pending if not f.done()][:count]:
            future.set_result(SimpleNamespace(offset=7))


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_outputs_wait_for_the_state_and_the_next_checkpoint_for_the_progress() -> None:
    kafka = SlowProducer()
    checkpoint = Checkpoint(kafka)  # type: ignore[arg-type]
    accounts, progress = FakeTable("account-state-changelog"), FakeTable("progress-changelog")
    writes = ChangelogWrites()
    writes.add(accounts, 2, "ann", "v1", None, None)  # type: ignore[arg-type]
    writes.add(accounts, 2, "ann", "v2", None, None)  # type: ignore[arg-type]
    checkpoint.publish([Output("fills", b"ann", b'{"fill_id": "ann#1"}')])

    def store_progress() -> None:
        writes.add(progress, 2, "orders#2", "5", None, None)  # type: ignore[arg-type]

    commit = asyncio.create_task(checkpoint.commit(writes, store_progress))
    await until(lambda: kafka.sent)
    await asyncio.sleep(0.05)  # time for the commit to run ahead, if it would
    # The last write of the key only, and nothing else yet.
    assert kafka.sent == [[Record("account-state-changelog", 2, b"ann", b"v2")]]
    kafka.acknowledge(1)
    await until(lambda: len(kafka.sent) == 2)
    assert accounts.persisted == {2: 7}
    assert kafka.sent[1] == [Record("fills", None, b"ann", b'{"fill_id": "ann#1"}')]
    await asyncio.sleep(0.05)
    assert len(kafka.sent) == 2  # the progress waits for the outputs
    kafka.acknowledge(1)
    await commit
    # Sent, not waited for: the next checkpoint waits for it, with its own state.
    assert kafka.sent[2] == [Record("progress-changelog", 2, b"orders#2", b"5")]
    assert progress.persisted == {} and len(writes) == 0

    following = asyncio.create_task(checkpoint.commit(writes, lambda: None))
    await until(lambda: len(kafka.sent) == 4)
    assert kafka.sent[3] == []  # the new batch changed nothing
    await asyncio.sleep(0.05)
    assert not following.done()
    kafka.acknowledge(1)  # the last checkpoint's progress
    await following
    assert progress.persisted == {2: 7}


async def test_an_output_that_fails_is_sent_again_until_acknowledged() -> None:
    kafka = SlowProducer()
    checkpoint = Checkpoint(kafka)  # type: ignore[arg-type]
    checkpoint.publish([Output("fills", b"ann", b'{"fill_id": "ann#1"}')])
    commit = asyncio.create_task(checkpoint.commit(ChangelogWrites(), lambda: None))
    await until(lambda: len(kafka.sent) == 2)
    kafka.pending[0].set_exception(ConnectionError("broker away"))
    await until(lambda: len(kafka.sent) == 3)
    kafka.acknowledge(1)
    await commit
    assert kafka.sent[1:] == [[Record("fills", None, b"ann", b'{"fill_id": "ann#1"}')]] * 2


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
