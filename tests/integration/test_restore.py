"""The bulk restore on a real broker: a table's changelog lands in the store Faust opens, with
the persisted offsets Faust's own recovery resumes after."""

from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaProducer

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.worker.app import create_app
from fillstream.worker.faust_adapter import persisted_offset
from fillstream.worker.restore import restore_tables
from tests.support import create_topics


async def test_a_changelog_is_restored_into_the_store_with_its_offsets(
    kafka_bootstrap: str, unique_id: str, data_dir: Path
) -> None:
    settings = Settings(app_id=unique_id, kafka_bootstrap=kafka_bootstrap, data_dir=data_dir,
                        topic_partitions=2)  # fmt: skip
    app = create_app(settings)
    table = app.Table("balances", default=None)
    changelog = table.changelog_topic.get_topic_name()
    await create_topics(kafka_bootstrap, [changelog], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for partition, key, value in [
            (0, b"ann", b'"1"'),
            (0, b"bob", b'"2"'),
            (0, b"ann", b'"3"'),  # offset 2: the newer value wins
            (0, b"bob", None),  # offset 3: a tombstone deletes
            (1, b"cy", b'"4"'),
        ]:
            await producer.send_and_wait(changelog, value, key=key, partition=partition)
    finally:
        await producer.stop()

    restored = await restore_tables([table], Kafka(kafka_bootstrap), partitions=2)

    assert restored.records == 5
    store = table.data
    assert store._dbs == {}, "Faust must open only the partitions it is given"
    assert (persisted_offset(table, 0), persisted_offset(table, 1)) == (3, 0)
    assert [(key, store._db_for_partition(0).get(key)) for key in (b"ann", b"bob")] == [
        (b"ann", b'"3"'), (b"bob", None)]  # fmt: skip
    assert store._db_for_partition(1).get(b"cy") == b'"4"'
    # Again on the same store: nothing new to read.
    assert (await restore_tables([table], Kafka(kafka_bootstrap), partitions=2)).records == 0
