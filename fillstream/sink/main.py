"""`fillstream sink` and `fillstream sql`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from clickhouse_connect.driver.client import Client

from fillstream import logs
from fillstream.broker.admin import TopicMismatch
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.sink.clickhouse import create_client
from fillstream.sink.http import ask, json_value, serve
from fillstream.sink.service import Sink


def run_sink(settings: Settings, connect: Callable[[Settings], Client] = create_client) -> int:
    """``connect`` makes the ClickHouse client (the tests pass one that injects faults)."""
    logging.basicConfig(level=logging.INFO)
    logs.use(logging.getLogger().handlers, settings.log_format, settings.redact)
    try:
        return asyncio.run(_run(settings, connect))
    except TopicMismatch as mismatch:
        print(f"fillstream sink: {mismatch}", file=sys.stderr)
        return 2


async def _run(settings: Settings, connect: Callable[[Settings], Client]) -> int:
    kafka = Kafka.from_settings(settings)
    sink = Sink(settings, connect)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await sink.start(kafka)
    runner = await serve(sink, settings.sink_bind, settings.sink_port)
    logging.info(
        "sink running: %s; status and SQL on %s:%d",
        settings.clickhouse_url_for_logs,
        settings.sink_bind,
        settings.sink_port,
    )
    try:
        await sink.run(stopping)
    finally:
        await runner.cleanup()
        await sink.stop()
    return 0


def run_sql(settings: Settings, query: str) -> int:
    """Ask the running sink; with none running, open ClickHouse directly."""
    key = settings.sink_api_key.get_secret_value() if settings.sink_api_key else None
    try:
        answer = ask(settings.sink_url, query, key, timeout=60)
    except urllib.error.HTTPError as error:
        print(json.loads(error.read())["error"])
        return 1
    except urllib.error.URLError:
        result = create_client(settings).query(query, settings={"readonly": 1})
        answer = {"columns": list(result.column_names), "rows": result.result_rows}
    print("\t".join(answer["columns"]))
    for row in answer["rows"]:
        print(
            "\t".join(
                str(json_value(value)) if not isinstance(value, str) else value for value in row
            )
        )
    return 0
