"""The Faust internals the worker needs, in one place, each with the reason no public API does.

An upgrade of faust-streaming checks this module and nothing else.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import faust
import rocksdict
from aiokafka import AIOKafkaProducer, TopicPartition
from faust import stores
from faust.stores.rocksdb import Store as RocksDBStore
from faust.streams import _current_event
from faust.types import TP, EventT, StoreT, StreamT

from fillstream.worker.producer import Record

if TYPE_CHECKING:
    from yarl import URL


def write_tables_for(event: EventT) -> None:
    """A table write goes to the changelog partition of the current event, which Faust sets for
    ``stream.events()`` but not for a batch (``take_events``). The context variable is this
    task's own, so the stream's background task that fills the batch is not affected."""
    _current_event.set(weakref.ref(event))


def batches(stream: StreamT, size: int, within: float) -> AsyncIterator[list[EventT]]:
    """Events in batches of up to ``size``, waiting at most ``within`` seconds for more: Faust's
    ``Stream.take_events``, which its stream interface type leaves out."""
    return stream.take_events(size, within)  # type: ignore[attr-defined]


def recovery_state(app: faust.App) -> tuple[bool, bool]:
    """(every assigned partition's tables recovered, recovering now): the table manager's
    recovery service, which its interface type leaves out."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return recovery.completed.is_set(), recovery.in_recovery


async def fetch_partitions(app: faust.App, topic: str) -> None:
    """Faust's ``topic_route`` asks the producer which partition a key goes to; a worker that
    has not produced to ``topic`` yet has no metadata for it. Faust exposes no public way to
    ask its producer for that."""
    await kafka_producer(app).partitions_for(topic)


def persisted_offset(table: faust.Table, partition: int) -> int | None:
    """The last changelog offset the table's local store holds for the partition."""
    store = table.data
    return store.persisted_offset(TP(table.changelog_topic.get_topic_name(), partition))


def store_changelog(
    table: faust.Table, partition: int, records: list[tuple[bytes, bytes | None]], offset: int
) -> None:
    """Write changelog records (a value of None deletes) into the table's local store up to
    ``offset``, as Faust's own restore does (``Store.apply_changelog_batch``, which wants
    Faust events): the store's own database for the partition, one write batch, then the
    persisted offset Faust's recovery resumes after."""
    store = table.data
    batch = rocksdict.WriteBatch(raw_mode=True)
    for key, value in records:
        if value is None:
            batch.delete(key)
        else:
            batch.put(key, value)
    store._db_for_partition(partition).write(batch)  # type: ignore[attr-defined]
    store.set_persisted_offset(TP(table.changelog_topic.get_topic_name(), partition), offset)


def close_stores(table: faust.Table) -> None:
    """Close the table's local databases, so Faust opens only those of the partitions it is
    given: a read outside an event searches every open one (``Store._get_bucket_for_key``),
    and would answer from a partition another worker owns."""
    store = table.data
    while store._dbs:  # type: ignore[attr-defined]
        _, db = store._dbs.popitem()  # type: ignore[attr-defined]
        db.close()
    store._key_index.clear()  # type: ignore[attr-defined]


class ChangelogWrites:
    """A batch's changelog writes, the last one per key, sent at its checkpoint as one batch
    per partition (`producer.BatchProducer`) instead of one Faust send per write. The local
    store has each write at once, as Faust does; a restore reads the last value of each key,
    so the ones before it in the batch add nothing."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, int, bytes], tuple[faust.Table, Record]] = {}

    def add(self, table: faust.Table, partition: int, key: Any, value: Any,
            key_serializer: Any, value_serializer: Any) -> None:  # fmt: skip
        """Serialized as Faust would send it (the changelog topic's own codecs)."""
        topic = table.changelog_topic
        key_bytes, _ = topic.prepare_key(key, key_serializer)
        value_bytes, _ = topic.prepare_value(value, value_serializer)
        name = topic.get_topic_name()
        self._latest[name, partition, key_bytes] = (
            table,
            Record(name, partition, key_bytes, value_bytes),
        )

    def take(self) -> ChangelogWrites:
        """The writes so far; later ones go to the next checkpoint."""
        taken = ChangelogWrites()
        taken._latest, self._latest = self._latest, {}
        return taken

    def records(self) -> list[Record]:
        return [record for _, record in self._latest.values()]

    def persist(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Each store remembers the changelog offset it holds up to, as Faust does once a write
        is acknowledged: recovery reads the changelog from there."""
        tables = {(name, partition): table for (name, partition, _), (table, _) in
                  self._latest.items()}  # fmt: skip
        for (name, partition), table in tables.items():
            offset = offsets.get(TopicPartition(name, partition))
            if offset is not None:
                table.data.set_persisted_offset(TP(name, partition), offset)

    def __len__(self) -> int:
        return len(self._latest)


_changelog_writes: ContextVar[ChangelogWrites | None] = ContextVar("changelog_writes", default=None)


FLUSH_SECONDS = 30.0
"""How often a store's memory is written out, at most: what a restart on the same disk may have
to read back from the changelog (Kafka Streams flushes at each commit, every 30 s by default)."""


class ChangelogBackedStore(RocksDBStore):
    """RocksDB without its write-ahead log, as Kafka Streams runs it: the changelog is what makes
    a write durable, so a local write need not be, and costs a memory insert instead of a log
    append (RocksDB puts were a tenth of the worker draining orders). A crash loses the writes since
    the last flush and the persisted offset with them (one column family is flushed in write
    order, and the offset is written after the data it covers), so the restore reads them back
    from the changelog; `close` flushes everything."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flushed_at: dict[int, float] = {}

    def _open_for_partition(self, partition: int) -> Any:
        db = super()._open_for_partition(partition)
        options = rocksdict.WriteOptions()
        # A property in rocksdict, which its stubs declare as a method.
        options.disable_wal = True  # type: ignore[method-assign,assignment]
        db.set_write_options(options)
        self._flushed_at[partition] = time.monotonic()
        return db

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        super().set_persisted_offset(tp, offset)
        if time.monotonic() - self._flushed_at[tp.partition] >= FLUSH_SECONDS:
            self._db_for_partition(tp.partition).flush(wait=False)
            self._flushed_at[tp.partition] = time.monotonic()


class DurableTable(faust.Table):
    """A Faust table whose changelog writes a checkpoint sends: inside
    `collect_changelog_writes` they are kept for it; outside, Faust sends them itself. Its
    RocksDB store keeps no write-ahead log (`ChangelogBackedStore`)."""

    def _new_store_by_url(self, url: str | URL) -> StoreT:
        store_type = stores.by_url(url)
        if store_type is RocksDBStore:
            store_type = ChangelogBackedStore
        return store_type(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> Any:
        collected = _changelog_writes.get()
        if collected is None or partition is None:
            return super().send_changelog(partition, key, value, key_serializer, value_serializer)
        collected.add(self, partition, key, value,
                      key_serializer or self.key_serializer,
                      value_serializer or self.value_serializer)  # fmt: skip
        # Faust's callers read the partition from the message of what this returns.
        return SimpleNamespace(message=SimpleNamespace(partition=partition))


@contextmanager
def collect_changelog_writes() -> Iterator[ChangelogWrites]:
    """The changelog writes this task makes inside the block."""
    collected = ChangelogWrites()
    token = _changelog_writes.set(collected)
    try:
        yield collected
    finally:
        _changelog_writes.reset(token)


def kafka_producer(app: faust.App) -> AIOKafkaProducer:
    """The aiokafka producer under Faust's: Faust exposes no public way to send a record batch
    (`producer.BatchProducer`) or to ask which partition a key goes to."""
    return app.producer._ensure_producer()  # type: ignore[attr-defined]
