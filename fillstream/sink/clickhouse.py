"""The one place that turns the ClickHouse DSN setting into a clickhouse-connect client.

``chdb:///path`` is the embedded engine (one process per directory, synchronous only: call it from
an executor thread, never on the event loop); ``http(s)://host:8123`` is a ClickHouse server.
"""

from __future__ import annotations

from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from fillstream.settings import Settings


def create_client(settings: Settings) -> Client:
    dsn = settings.clickhouse_url
    scheme = urlparse(dsn).scheme
    if scheme == "chdb":
        return clickhouse_connect.get_client(dsn=dsn)
    if scheme in ("http", "https"):
        return clickhouse_connect.get_client(
            dsn=dsn,
            username=settings.clickhouse_user,
            password=settings.clickhouse_password.get_secret_value(),
        )
    raise ValueError(f"unsupported ClickHouse DSN scheme {scheme!r}: use chdb:// or http(s)://")
