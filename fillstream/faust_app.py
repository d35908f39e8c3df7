"""Builds Faust apps from settings so every role and test app shares one configuration."""

from __future__ import annotations

import logging

import faust

from fillstream.api.auth import KeyRing, key_required
from fillstream.localkafka import resolve_bootstrap
from fillstream.settings import Settings
from fillstream.streams.admin import TopicSpec, ensure_topics


class Worker(faust.Worker):
    """A Faust worker without the start-up spinner.

    To spin on every log record, Faust's spinner sets the root logger to DEBUG whatever the
    chosen level, so every debug call on the produce path (two per message sent) built and
    handled a log record: about 8 % of a busy worker's CPU in bench/profile.py.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class App(faust.App):
    """A Faust app that creates its declared topics, and its tables' changelogs, before its
    consumer subscribes to them.

    Faust declares changelogs while the consumer joins its group; a changelog the group's first
    metadata snapshot saw with no partitions made the first table write fail its partition check
    (PartitionsMismatch: "the changelog topic has 0 partitions") and crashed the agent.
    """

    topic_specs: list[TopicSpec]

    async def on_first_start(self) -> None:
        await super().on_first_start()
        changelogs = [
            TopicSpec(table.changelog_topic.get_topic_name(), compacted=True)
            for table in self.tables.values()
        ]
        if self.topic_specs or changelogs:
            bootstrap = ",".join(f"{url.host}:{url.port}" for url in self.conf.broker)
            specs = [*self.topic_specs, *changelogs]
            await ensure_topics(bootstrap, specs, self.conf.topic_partitions)


def create_app(settings: Settings) -> App:
    settings.root.mkdir(parents=True, exist_ok=True)
    app = App(
        settings.app_id,
        broker=f"kafka://{resolve_bootstrap(settings.kafka_bootstrap, settings.kafka_dir)}",
        store="rocksdb://",
        datadir=str(settings.faust_dir),
        topic_partitions=settings.topic_partitions,
        # One broker in development; a production cluster sets its own replication.
        topic_replication_factor=1,
        processing_guarantee=settings.processing_guarantee,
        table_standby_replicas=settings.table_standby_replicas,
        web_port=settings.web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        # Faust's own pages list table contents and the topology to anyone who asks; requests
        # for another worker's account are routed by topic_route, which does not need them.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_application_options={"middlewares": [key_required(KeyRing(settings.api_keys))]},
        autodiscover=False,
        Worker=Worker,
        # Plain JSON on every wire; fillstream's own codecs turn it into models.
        key_serializer="raw",
        value_serializer="raw",
    )
    app.topic_specs = []
    return app
