"""The worker's operational HTTP routes: health, readiness and metrics (open, they say nothing
of an account), and each partition's view of a symbol's price (behind a key)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fillstream import metrics
from fillstream.settings import Settings
from fillstream.worker.app import App
from fillstream.worker.faust_adapter import recovery_state
from fillstream.worker.tables import Tables, market_key

KAFKA_CHECK_TIMEOUT_MS = 2000

ViewHandler = Callable[..., Awaitable[Response]]


def timed(route: str) -> Callable[[ViewHandler], ViewHandler]:
    """Records each request's latency under its route and status."""

    def decorate(handler: ViewHandler) -> ViewHandler:
        @wraps(handler)
        async def measured(self: View, request: Request, **kwargs: Any) -> Response:
            started = time.perf_counter()
            response = await handler(self, request, **kwargs)
            metrics.HTTP_SECONDS.labels(route, str(response.status)).observe(
                time.perf_counter() - started
            )
            return response

        return measured

    return decorate


def register(app: App, settings: Settings, tables: Tables) -> None:
    @app.page("/health")
    class HealthView(View):
        """The process is alive and serving."""

        @timed("/health")
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class ReadyView(View):
        """Ready to process: Kafka answers and the assigned partitions' tables are recovered."""

        @timed("/ready")
        async def get(self, request: Request) -> Response:
            ready, checks = await _readiness(app)
            return self.json({"ready": ready, "checks": checks}, status=200 if ready else 503)

    @app.page("/metrics")
    class MetricsView(View):
        """Prometheus exposition of this process's metrics."""

        @timed("/metrics")
        async def get(self, request: Request) -> Response:
            _update_lag(app, tables)
            metrics.WORKER_READY.set((await _readiness(app))[0])
            for name, table in app.tables.items():
                # Counting walks the local store: fine at a scrape interval, not per request.
                metrics.TABLE_KEYS.labels(name).set(len(table))
            return self.bytes(
                generate_latest(metrics.WORKER), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

    @app.page("/market/{symbol}/")
    class PriceView(View):
        """The last tick of a symbol as each account partition on this worker sees it."""

        @timed("/market/{symbol}/")
        async def get(self, request: Request, symbol: str) -> Response:
            partitions = {
                str(partition): tables.prices.get(market_key(symbol, partition))
                for partition in range(settings.topic_partitions)
            }
            return self.json({"symbol": symbol, "partitions": partitions})


async def _readiness(app: App) -> tuple[bool, dict]:
    """What /ready answers, and the ready gauge says: Kafka answers, tables recovered."""
    checks = {"kafka": await _kafka_check(app), "recovery": _recovery_check(app)}
    return all(check["ok"] for check in checks.values()), checks


async def _kafka_check(app: App) -> dict:
    admin = app.kafka.admin(request_timeout_ms=KAFKA_CHECK_TIMEOUT_MS)
    try:
        await admin.start()
        brokers = (await admin.describe_cluster())["brokers"]
        return {"ok": bool(brokers), "brokers": len(brokers)}
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        await admin.close()


def _recovery_check(app: App) -> dict:
    completed, in_recovery = recovery_state(app)
    recovered = completed and not app.rebalancing
    return {"ok": recovered, "in_recovery": in_recovery, "rebalancing": app.rebalancing}


def _update_lag(app: App, tables: Tables) -> None:
    """Lag per assigned source partition: the end of the log less the next offset to process."""
    consumer = app.consumer
    for tp in consumer.assignment():
        if tp.topic.endswith("-changelog") or "__assignor" in tp.topic:
            continue
        progress = tables.progress.get(f"{tp.topic}#{tp.partition}")
        highwater = consumer.highwater(TP(tp.topic, tp.partition))
        if progress is not None and highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(
                max(highwater - progress, 0)
            )
