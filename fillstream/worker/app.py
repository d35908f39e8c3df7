"""The Faust app every worker role and test app shares: one configuration, built from settings.

It imports no agent: `fillstream.worker.main.build` declares the topics, tables, agents and
views on it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust

from fillstream import logs
from fillstream.auth import KeyRing, key_required
from fillstream.broker.admin import TopicSpec, ensure_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.worker.faust_adapter import DurableTable
from fillstream.worker.restore import restore_tables

PRODUCER_BATCH_BYTES = 256 * 1024


class Worker(faust.Worker):
    """A Faust worker without the start-up spinner.

    To spin on every log record, Faust's spinner sets the root logger to DEBUG whatever the
    chosen level, so every debug call on the produce path (two per message sent) built and
    handled a log record: about 8 % of a busy worker's CPU in bench/profile.py.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)
        settings = self.app.settings  # type: ignore[attr-defined]
        logs.use(logger.handlers, settings.log_format, settings.redact)


class App(faust.App):
    """A Faust app that creates its declared topics, and its tables' changelogs, before its
    consumer subscribes to them.

    Faust declares changelogs while the consumer joins its group; a changelog the group's first
    metadata snapshot saw with no partitions made the first table write fail its partition check
    (PartitionsMismatch: "the changelog topic has 0 partitions") and crashed the agent. Then
    it restores its tables in bulk (`restore`), which Faust would do a record at a time.
    """

    def __init__(
        self,
        id: str,
        *,
        settings: Settings,
        kafka: Kafka,
        topic_specs: Iterable[TopicSpec],
        **options: Any,
    ) -> None:
        super().__init__(id, **options)
        self.settings = settings
        self.kafka = kafka
        self.topic_specs = list(topic_specs)

    async def ensure_topics(self) -> None:
        """Its topics and its tables' changelogs created, or checked (`TopicMismatch`)."""
        changelogs = [
            TopicSpec(table.changelog_topic.get_topic_name(), compacted=True)
            for table in self.tables.values()
        ]
        specs = [*self.topic_specs, *changelogs]
        if specs:
            await ensure_topics(
                self.kafka,
                specs,
                self.conf.topic_partitions,
                self.settings.topic_replication_factor,
                self.settings.topic_min_insync_replicas,
            )

    async def on_first_start(self) -> None:
        await super().on_first_start()
        await self.ensure_topics()
        await restore_tables(list(self.tables.values()), self.kafka, self.conf.topic_partitions)


def create_app(settings: Settings, topic_specs: Iterable[TopicSpec] = ()) -> App:
    settings.root.mkdir(parents=True, exist_ok=True)
    kafka = Kafka.from_settings(settings)
    return App(
        settings.app_id,
        settings=settings,
        kafka=kafka,
        topic_specs=topic_specs,
        **kafka.faust_settings(),
        store="rocksdb://",
        datadir=str(settings.faust_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        processing_guarantee=settings.processing_guarantee,
        table_standby_replicas=settings.table_standby_replicas,
        # Failover in seconds: the group notices a worker killed with kill -9 after this long,
        # and the survivors take its partitions (warm, from their standby replicas).
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_seconds,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        # What the group's assignment tells the other workers: a request for an account this
        # worker does not own is forwarded to the owner's URL.
        canonical_url=settings.advertised_url,
        # Faust's own pages list table contents and the topology to anyone who asks; requests
        # for another worker's account are routed by topic_route, which does not need them.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_application_options={"middlewares": [key_required(KeyRing(settings.api_keys))]},
        autodiscover=False,
        Worker=Worker,
        Table=DurableTable,
        # A checkpoint sends its records as one batch per partition (`producer`): room for a
        # busy batch's outputs in one, where aiokafka's 16 KiB would take a round trip each.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        # Plain JSON on every wire; fillstream's own codecs turn it into models.
        key_serializer="raw",
        value_serializer="raw",
    )
