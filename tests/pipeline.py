"""A running trading pipeline for integration tests: a worker process, an upstream producer and a
downstream reader of every output topic, all on topics of the test's own."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fillstream.auth import hash_key
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.wire.times import format_time
from tests.support import ADMIN_KEY, Downstream, Upstream, WorkerProcess, worker_env

TICK_EPOCH = datetime(2026, 3, 1, 12, tzinfo=UTC)
OUTPUTS = ("fills", "order_events", "risk_events", "dead_letters")


class Pipeline:
    def __init__(self, bootstrap: str, unique_id: str, data_dir: Path, log: Path, **extra: str):
        self.bootstrap = bootstrap
        keys = {hash_key(ADMIN_KEY): "admin", **extra.pop("api_keys", {})}
        self.env = worker_env(
            bootstrap,
            data_dir,
            unique_id,
            f"{unique_id}.",
            api_keys=json.dumps(keys),
            sink_api_key=ADMIN_KEY,
            **extra,
        )
        self.settings = Settings(topic_prefix=f"{unique_id}.", kafka_bootstrap=bootstrap)
        self.worker = WorkerProcess(
            [sys.executable, "-m", "fillstream.cli", "worker"], self.env, log
        )
        self.upstream = Upstream(bootstrap)
        self._tick_time = TICK_EPOCH
        self.downstream = Downstream(
            bootstrap, *(self.topic(name) for name in OUTPUTS), read_committed=True
        )

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    @property
    def tick_time(self) -> datetime:
        """The time of the last tick sent (ticks advance it from TICK_EPOCH)."""
        return self._tick_time

    async def __aenter__(self) -> Pipeline:
        await ensure_topics(Kafka(self.bootstrap), pipeline_topics(self.settings), partitions=4)
        await self.upstream.__aenter__()
        await self.downstream.__aenter__()
        self.worker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.worker.stop()
        await self.downstream.__aexit__(*exc)
        await self.upstream.__aexit__(*exc)

    # upstream

    async def send(self, name: str, key: str | None, value: Any) -> None:
        await self.upstream.send(self.topic(name), key, value)

    async def instrument(self, symbol: str, kind: str = "crypto", **fees: str) -> None:
        values = {"taker_fee_bps": "0", "maker_fee_bps": "0", "slippage_bps": "0", **fees}
        await self.send("instruments", symbol, {"symbol": symbol, "kind": kind, **values})

    async def account(self, account_id: str, balance: str, **limits: str) -> None:
        await self.send(
            "accounts",
            account_id,
            {"account_id": account_id, "starting_balance": balance, **limits},
        )
        await self.wait_for(
            lambda r: any(
                e.get("account_id") == account_id and e.get("status") == "active"
                for e in r["risk_events"]
            )
        )

    async def tick(
        self, symbol: str, price: str, after: timedelta = timedelta(seconds=1), **quote: str
    ) -> str:
        """Publish a tick `after` the previous one (in tick time), with a ``quote`` (bid, ask,
        their sizes, the trade's size) if given, and wait until every account partition has
        applied it; return its ts."""
        self._tick_time += after
        ts = format_time(self._tick_time)
        await self.send("ticks", symbol, {"symbol": symbol, "price": price, "ts": ts, **quote})
        await self.wait_until(lambda: self._partitions_at(symbol, price, ts))
        return ts

    async def order(
        self, account_id: str, order_id: str, symbol: str, side: str, quantity: str, **extra: Any
    ) -> None:
        order = {
            "order_id": order_id,
            "account_id": account_id,
            "symbol": symbol,
            "side": side,
            "type": "limit" if "limit_price" in extra else "market",
            "quantity": quantity,
            **extra,
        }
        await self.send("orders", account_id, order)

    # downstream

    def outputs(self) -> dict[str, list[dict]]:
        by_topic: dict[str, list[dict]] = {name: [] for name in OUTPUTS}
        names = {self.topic(name): name for name in OUTPUTS}
        for record in self.downstream.records:
            by_topic[names[record.topic]].append(json.loads(record.value))
        return by_topic

    async def wait_for(self, done: Callable[[dict[str, list[dict]]], bool], timeout: float = 60):
        await self.downstream.poll_until(
            lambda _records: done(self.outputs()), timeout=timeout, worker=self.worker
        )
        return self.outputs()

    async def order_events(self, order_id: str, terminal: int = 1) -> list[dict]:
        """Wait for an order's events up to its terminal one, and for its fill when filled
        (fills and order events travel on different topics); return the events in order."""

        def events(outputs):
            return [e for e in outputs["order_events"] if e["order_id"] == order_id]

        def complete(outputs) -> bool:
            mine = events(outputs)
            ended = sum(e["status"] in {"rejected", "filled", "cancelled", "expired"} for e in mine)
            filled = any(e["status"] == "filled" for e in mine)
            has_fill = any(f["order_id"] == order_id for f in outputs["fills"])
            return ended >= terminal and (has_fill or not filled)

        return events(await self.wait_for(complete))

    def fills_of(self, order_id: str) -> list[dict]:
        return [f for f in self.outputs()["fills"] if f["order_id"] == order_id]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.worker.exited:
                raise AssertionError(f"worker exited:\n{self.worker.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met after {timeout}s")
            await asyncio.sleep(0.05)

    def _partitions_at(self, symbol: str, price: str, ts: str) -> bool:
        view = self.http(f"/market/{urllib.parse.quote(symbol, safe='')}/")
        if view is None:
            return False
        return all(
            tick is not None and (tick["price"], tick["ts"]) == (price, ts)
            for tick in view["partitions"].values()
        )

    def api(
        self, method: str, path: str, body: bytes | None = None, key: str | None = ADMIN_KEY
    ) -> tuple[int, dict]:
        return api_request(self.env["FILLSTREAM_WEB_PORT"], method, path, body, key)

    def http(self, path: str) -> dict | None:
        """GET with the admin key: the JSON body of a 200, else None."""
        status, body = api_request(self.env["FILLSTREAM_WEB_PORT"], "GET", path)
        return body if status == 200 else None


def api_request(
    port: str,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = ADMIN_KEY,
    host: str = "127.0.0.1",
) -> tuple[int, dict]:
    """A request to a worker's HTTP API: the status and the JSON body (0 when unreachable)."""
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=body, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, _json_or_text(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json_or_text(error.read())
    except OSError:
        return 0, {}


def _json_or_text(body: bytes) -> dict:
    try:
        return json.loads(body)
    except ValueError:
        return {"text": body.decode(errors="replace")}
