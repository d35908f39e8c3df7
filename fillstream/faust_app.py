"""Builds Faust apps from settings so every role and test app shares one configuration."""

from __future__ import annotations

import faust

from fillstream.localkafka import resolve_bootstrap
from fillstream.settings import Settings


def create_app(settings: Settings) -> faust.App:
    settings.root.mkdir(parents=True, exist_ok=True)
    return faust.App(
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
        autodiscover=False,
        # Plain JSON on every wire; fillstream's own codecs turn it into models.
        key_serializer="raw",
        value_serializer="raw",
    )
