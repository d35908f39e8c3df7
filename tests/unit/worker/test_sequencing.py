"""The batch's checkpoint waits for every changelog write the batch makes, those made while it
ends (the partition's outbox index) included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

from fillstream.broker.connection import Kafka
from fillstream.worker import faust_adapter
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.dead_letters import DeadLetters
from fillstream.worker.faust_adapter import ChangelogWrites
from fillstream.worker.inputs import Input
from fillstream.worker.producer import Record
from fillstream.worker.sequencing import Sequencer
from tests.unit.worker.fakes import RECORD_TIME, FakeProducer, FakeTable


class RecordingCheckpoint(Checkpoint):
    def __init__(self) -> None:
        super().__init__(FakeProducer({}))  # type: ignore[arg-type]
        self.awaited: list[list[Record]] = []

    async def commit(self, writes: ChangelogWrites, store_progress) -> None:
        self.awaited.append(writes.take().records())
        store_progress()


class Event:
    """A Faust event as the sequencer reads it (weakly referenced, like Faust's)."""

    def __init__(self, offset: int) -> None:
        self.message = SimpleNamespace(
            topic="orders", partition=0, offset=offset, key=b"ann", value=b"{}",
            timestamp=RECORD_TIME)  # fmt: skip


class OneBatch:
    """A stream that hands out one batch of events, as Faust's ``take_events`` would."""

    def __init__(self, *offsets: int) -> None:
        self.events = [Event(offset) for offset in offsets]

    async def take_events(self, size: int, within: float) -> AsyncIterator[list]:
        yield self.events


def changelog_write(key: str) -> Record:
    """What a durable table does on each write: it joins the writes being collected."""
    collected = faust_adapter._changelog_writes.get()  # the hook DurableTable writes through
    assert collected is not None
    collected.add(FakeTable("account-state"), 0, key, "{}", None, None)  # type: ignore[arg-type]
    return Record("account-state", 0, key.encode(), b"{}")


async def test_writes_made_as_the_batch_ends_are_awaited_by_its_checkpoint() -> None:
    checkpoint = RecordingCheckpoint()
    made: list[Record] = []

    async def handle(record: Input) -> None:
        made.append(changelog_write(f"account@{record.offset}"))

    def end_partition(partition: int) -> Callable[[], None] | None:
        made.append(changelog_write(f"outboxes[{partition}]"))
        return None

    sequencer = Sequencer(
        "execution", {}, checkpoint, DeadLetters("dead-letters", checkpoint), Kafka(""),
        size=10, within=0,
    )  # fmt: skip
    await sequencer.run(OneBatch(0, 1), handle, end_partition=end_partition)  # type: ignore[arg-type]

    assert [record.key for record in made] == [b"account@0", b"account@1", b"outboxes[0]"]
    assert checkpoint.awaited == [made]
