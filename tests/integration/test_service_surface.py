"""The worker's health, readiness and metrics, over real HTTP, against a real broker."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fillstream.broker import local as localkafka
from tests.pipeline import Pipeline


def get(port: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def samples(port: str) -> dict[tuple[str, tuple], float]:
    status, body = get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


async def test_metrics_move_by_the_scripted_amounts(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        port = p.env["FILLSTREAM_WEB_PORT"]
        await p.instrument("BTC")
        await p.account("meg", "1000")
        await p.tick("BTC", "100")
        await p.order("meg", "good", "BTC", "buy", "1")
        await p.order("meg", "bad-symbol", "DOGE", "buy", "1")
        await p.send("orders", "meg", b"{not json")
        await p.order_events("bad-symbol")
        await p.order_events("good")
        await p.wait_for(lambda o: len(o["dead_letters"]) == 1)
        status, body = get(port, "/health")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, body = get(port, "/ready")
        ready = json.loads(body)
        assert status == 200 and ready["ready"] is True
        assert ready["checks"]["kafka"]["ok"] and ready["checks"]["recovery"]["ok"]
        metrics = samples(port)

    orders = p.topic("orders")
    assert metrics[("fillstream_messages_in_total", (("topic", orders),))] == 3
    assert metrics[("fillstream_messages_in_total", (("topic", p.topic("accounts")),))] == 1
    assert (
        metrics[("fillstream_fills_total", (("liquidation", "false"), ("liquidity", "taker")))] == 1
    )
    events = {
        labels: value
        for (name, labels), value in metrics.items()
        if name == "fillstream_order_events_total"
    }
    assert events == {
        (("reason", ""), ("status", "accepted")): 1,
        (("reason", ""), ("status", "filled")): 1,
        (("reason", "UNKNOWN_SYMBOL"), ("status", "rejected")): 1,
    }
    assert metrics[("fillstream_dead_letters_total", (("topic", orders),))] == 1
    assert metrics[("fillstream_messages_out_total", (("topic", p.topic("fills")),))] == 1
    assert metrics[("fillstream_messages_in_total", (("topic", p.topic("instruments")),))] == 1
    assert metrics[("fillstream_messages_in_total", (("topic", p.topic("ticks")),))] == 1
    # the router copies each batch to the four partitions: the instrument and the tick arrive in
    # one batch or in two, depending on how far apart they reached the worker
    fanned_out = metrics[("fillstream_messages_out_total", (("topic", p.topic("market_data")),))]
    assert fanned_out in (4, 8)
    # and each assignment wakes the four partitions it gives with an empty batch
    market_data_in = metrics[("fillstream_messages_in_total", (("topic", p.topic("market_data")),))]
    wakes = market_data_in - fanned_out
    assert wakes >= 4 and wakes % 4 == 0
    assert metrics[("fillstream_processing_seconds_count", (("agent", "execute"),))] == (
        3 + 1 + market_data_in
    )
    assert metrics[("fillstream_table_keys", (("table", "account-state"),))] == 1
    assert metrics[("fillstream_table_keys", (("table", "prices"),))] == 4  # one per partition
    lags = [v for (name, _), v in metrics.items() if name == "fillstream_consumer_lag_records"]
    assert lags and all(v == 0 for v in lags)
    ready_requests = (
        "fillstream_http_request_seconds_count",
        (("route", "/ready"), ("status", "200")),
    )
    assert metrics[ready_requests] == 1


async def wait_ready(port: str, expected: bool, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        status, raw = get(port, "/ready")
        if raw:
            body = json.loads(raw)
            if body.get("ready") is expected and (status == 200) is expected:
                return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"/ready never became {expected}: {body}")


@pytest.mark.kafka  # starts a broker of its own
async def test_ready_follows_the_broker_down_and_up(
    unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    broker_dir = tmp_path / "own-broker"
    broker = await asyncio.to_thread(localkafka.start, broker_dir, 0)
    try:
        async with Pipeline(broker.bootstrap, unique_id, data_dir, tmp_path / "w.log") as p:
            port = p.env["FILLSTREAM_WEB_PORT"]
            await p.account("ivy", "100")
            await wait_ready(port, True)
            await asyncio.to_thread(localkafka.stop, broker_dir)
            down = await wait_ready(port, False)
            assert down["checks"]["kafka"]["ok"] is False
            order = {"order_id": "o1", "account_id": "ivy", "symbol": "BTC", "side": "buy"}
            body = json.dumps({**order, "type": "market", "quantity": "1"}).encode()
            status, answer = await asyncio.to_thread(p.api, "POST", "/orders", body)
            assert status == 503 and answer["error"].startswith("Kafka unavailable")
            await asyncio.to_thread(localkafka.start, broker_dir, broker.port)
            await wait_ready(port, True)
            p.worker.stop()
    finally:
        await asyncio.to_thread(localkafka.stop, broker_dir)
