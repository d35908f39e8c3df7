"""The running sink's HTTP door: health, readiness, metrics, and behind a key its status, the
live dashboard and read-only SQL (admin keys only).

The embedded engine admits one process per data directory, and the sink is that process while it
runs; so analysts' queries go through it (``fillstream sql``), executed with ``readonly=1``.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, date, datetime
from decimal import Decimal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fillstream import metrics
from fillstream.auth import PRINCIPAL, KeyRing, key_required
from fillstream.sink.dashboard import Dashboard, add_routes
from fillstream.sink.service import Sink


def ask(url: str, query: str, key: str | None, timeout: float = 30) -> dict:
    """A query to a running sink's /sql (``url`` like http://127.0.0.1:6067): its JSON answer.
    Raises urllib's errors (HTTPError carries the sink's JSON error body)."""
    request = urllib.request.Request(f"{url}/sql", data=query.encode(), method="POST")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        # The tables hold UTC; the embedded engine hands back naive datetimes.
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def build_app(sink: Sink, keyring: KeyRing) -> web.Application:
    async def status(request: web.Request) -> web.Response:
        stats = sink.stats.as_dict()
        return web.json_response(stats, status=200 if stats["healthy"] else 503)

    async def sql(request: web.Request) -> web.Response:
        """A query as the body, or JSON {"query", "parameters"} for ClickHouse's {name:Type}.
        Admin keys only: it reads every account's trades."""
        if not request[PRINCIPAL].admin:
            return web.json_response({"error": "/sql needs an admin key"}, status=403)
        parameters = None
        if request.content_type == "application/json":
            body = await request.json()
            query, parameters = body["query"], body.get("parameters")
        else:
            query = await request.text()
        try:
            columns, rows = await sink.query(query, parameters)
        except Exception as error:
            return web.json_response({"error": sink.settings.redact(str(error))}, status=400)
        body = json.dumps({"columns": columns, "rows": rows}, default=json_value)
        return web.Response(text=body, content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def prometheus(request: web.Request) -> web.Response:
        metrics.SINK_READY.set(sink.stats.as_dict()["healthy"])
        body = generate_latest(metrics.SINK)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(middlewares=[key_required(keyring)])
    app.router.add_get("/health", health)
    app.router.add_get("/ready", status)
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/status", status)
    app.router.add_post("/sql", sql)
    add_routes(app, Dashboard(sink), json_value)
    return app


async def serve(sink: Sink, bind: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(build_app(sink, KeyRing(sink.settings.api_keys)))
    await runner.setup()
    await web.TCPSite(runner, bind, port).start()
    return runner
