"""The firm's live page, served by the sink behind the admin keys: accounts, fills, violations and
equity curves from ClickHouse, the workers' lag and the dead letters from Kafka. The page polls
``/dashboard/data``; answers are cached for a second, so any number of screens costs the sink
one round of queries a second."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from importlib.resources import files
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from fillstream.auth import PRINCIPAL
from fillstream.sink.service import Sink
from fillstream.wire.topics import DEAD_LETTERS

CACHE_SECONDS = 1.0
CURVE_POINTS = 300
RECENT = 25

# An account's records share a partition (the key is the account), so their offsets give the
# order they happened in, whatever the clocks of the messages that caused them.
ACCOUNTS = """
SELECT account_id, argMax(equity_after, kafka_offset), max(equity_after), count(),
       sum(realized_pnl), sum(fee), max(ts)
FROM trades FINAL GROUP BY account_id ORDER BY account_id"""
STATES = """
SELECT account_id, argMax(status, kafka_offset)
FROM risk_events FINAL WHERE type = 'account_status' GROUP BY account_id"""
PROGRAMS = """
SELECT s.account_id, s.program_id, s.last_outcome, s.last_rule, count(d.day)
FROM evaluation_status AS s LEFT JOIN program_days AS d
  ON d.account_id = s.account_id AND d.program_id = s.program_id
GROUP BY s.account_id, s.program_id, s.last_outcome, s.last_rule"""
FILLS = f"""
SELECT ts, account_id, order_id, symbol, side, quantity, price, fee, liquidation
FROM trades FINAL ORDER BY ts DESC, fill_id DESC LIMIT {RECENT}"""
VIOLATIONS = f"""
SELECT ts, account_id, type, status, reason, outcome, rule, drawdown_pct
FROM risk_events FINAL
WHERE type = 'drawdown_violation' OR (type = 'evaluation' AND outcome != 'day_closed')
ORDER BY ts DESC LIMIT {RECENT}"""
CURVES = f"""
SELECT account_id, ts, equity_after FROM trades FINAL
ORDER BY account_id, kafka_offset DESC LIMIT {CURVE_POINTS} BY account_id"""

FILL_COLUMNS = (
    "ts", "account_id", "order_id", "symbol", "side", "quantity", "price", "fee", "liquidation",
)  # fmt: skip
VIOLATION_COLUMNS = (
    "ts", "account_id", "type", "status", "reason", "outcome", "rule", "drawdown_pct")  # fmt: skip


class Dashboard:
    """What the page shows, gathered at most once per CACHE_SECONDS."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def data(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > CACHE_SECONDS:
                self._cached = (time.monotonic(), await self._gather())
            return self._cached[1]

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
        if self._offsets is not None:
            await self._offsets.stop()

    async def _gather(self) -> dict[str, Any]:
        rows = {}
        for name, sql in (("accounts", ACCOUNTS), ("states", STATES),
                          ("programs", PROGRAMS), ("fills", FILLS), ("violations", VIOLATIONS),
                          ("curves", CURVES)):  # fmt: skip
            rows[name] = (await self.sink.query(sql))[1]
        states = dict(rows["states"])
        programs = {row[0]: row[1:] for row in rows["programs"]}
        accounts = []
        for account_id, equity, peak, fills, realized, fees, as_of in rows["accounts"]:
            program = programs.get(account_id)
            accounts.append({
                "account_id": account_id, "equity": equity, "peak": peak,
                "drawdown_pct": (peak - equity) / peak * 100 if peak > 0 else Decimal(0),
                "state": states.get(account_id, "active"), "fills": fills,
                "realized": realized, "fees": fees, "as_of": as_of,
                "program": None if program is None else {
                    "program_id": program[0], "last_outcome": program[1],
                    "last_rule": program[2], "days": program[3]},
            })  # fmt: skip
        curves: dict[str, list] = {}
        for account_id, ts, equity in rows["curves"]:
            curves.setdefault(account_id, []).append([ts, equity])
        for points in curves.values():
            points.reverse()  # the query takes each account's latest points first
        return {
            "accounts": accounts,
            "fills": [dict(zip(FILL_COLUMNS, row, strict=True)) for row in rows["fills"]],
            "violations": [
                dict(zip(VIOLATION_COLUMNS, row, strict=True)) for row in rows["violations"]
            ],
            "curves": curves,
            "kafka": await self._kafka(),
            "sink_lag": sum(self.sink.stats.lag.values()),
            "as_of": time.time(),
        }

    async def _kafka(self) -> dict[str, Any]:
        """The workers' lag (their group's committed offsets against the ends) and how many
        dead letters the topic holds; an error here leaves the rest of the page live."""
        kafka = self.sink.kafka
        try:
            if self._admin is None:
                self._admin = kafka.admin(request_timeout_ms=5000)
                await self._admin.start()
            if self._offsets is None:
                self._offsets = kafka.consumer(group_id=None, request_timeout_ms=5000)
                await self._offsets.start()
            committed = await self._admin.list_consumer_group_offsets(self.sink.settings.app_id)
            letters = await kafka.partitions(self.sink.settings.topic(DEAD_LETTERS.name))
            ends = await self._offsets.end_offsets([*committed, *letters])
            starts = await self._offsets.beginning_offsets(letters)
            return {
                "worker_lag": sum(max(ends[tp] - at.offset, 0) for tp, at in committed.items()),
                "dead_letters": sum(ends[tp] - starts[tp] for tp in letters),
            }
        except Exception as error:
            return {"error": self.sink.settings.redact(f"{type(error).__name__}: {error}")}


def add_routes(
    app: web.Application, dashboard: Dashboard, json_value: Callable[[object], object]
) -> None:
    """``json_value`` turns the engine's values into JSON; money is shown without the
    columns' trailing zeros (250.5, not 250.500000000000000000)."""
    page = files("fillstream.sink").joinpath("dashboard.html").read_text()

    def admin_only(request: web.Request) -> web.Response | None:
        if request[PRINCIPAL].admin:
            return None
        return web.json_response({"error": "the dashboard needs an admin key"}, status=403)

    async def show(request: web.Request) -> web.Response:
        return admin_only(request) or web.Response(text=page, content_type="text/html")

    async def data(request: web.Request) -> web.Response:
        if denied := admin_only(request):
            return denied
        body = json.dumps(await dashboard.data(), default=lambda v: json_value(_plain(v)))
        return web.Response(text=body, content_type="application/json")

    app.router.add_get("/dashboard", show)
    app.router.add_get("/dashboard/data", data)
    app.on_cleanup.append(lambda _: dashboard.close())


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    return value
