"""Every path the worker and the sink serve, walked without a key and with another account's key:
only /health, /ready and /metrics answer without one, no account leaks to a wrong key, and no
secret shows up in a body or a log."""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

from fillstream.auth import hash_key
from fillstream.broker.local import free_port
from tests.pipeline import Pipeline, api_request
from tests.support import ADMIN_KEY, WorkerProcess

ALICE_KEY = "alice-key-must-not-leak"
BOB_KEY = "bob-key-must-not-leak"
PASSWORD = "clickhouse-password-must-not-leak"
OPEN = {"/health", "/ready", "/metrics"}
ORDER = json.dumps({"order_id": "x", "account_id": "alice", "symbol": "BTC", "side": "buy",
                    "type": "market", "quantity": "1"}).encode()  # fmt: skip
# Faust's own pages (off), ours, and one nobody serves.
WORKER_ROUTES = [
    ("GET", "/"), ("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"),
    ("POST", "/orders"), ("GET", "/accounts/alice"), ("GET", "/accounts/alice/orders/a1"),
    ("GET", "/accounts/alice/trades"), ("GET", "/market/BTC/"),
    ("GET", "/table/account-state/alice/"), ("GET", "/router/"), ("GET", "/stats/"),
    ("GET", "/graph/"), ("GET", "/no-such-page"),
]  # fmt: skip
SINK_ROUTES = [("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/status"),
               ("POST", "/sql")]  # fmt: skip
ACCOUNT_ROUTES = {"/accounts/alice", "/accounts/alice/orders/a1", "/accounts/alice/trades"}


async def test_every_route_needs_the_right_key_and_nothing_secret_leaks(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    sink_port = str(free_port())
    extra = {
        "api_keys": {hash_key(ALICE_KEY): "account:alice", hash_key(BOB_KEY): "account:bob"},
        "sink_url": f"http://127.0.0.1:{sink_port}",
        "clickhouse_password": PASSWORD,
    }
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "w.log", **extra) as p:
        sink_env = {**p.env, "FILLSTREAM_SINK_PORT": sink_port}
        sink = WorkerProcess([sys.executable, "-m", "fillstream.cli", "sink"], sink_env,
                             tmp_path / "sink.log").start()  # fmt: skip
        try:
            await p.instrument("BTC")
            await p.account("alice", "1000")
            await p.tick("BTC", "100")
            await p.order("alice", "a1", "BTC", "buy", "1")
            await p.order_events("a1")
            worker_port = p.env["FILLSTREAM_WEB_PORT"]
            await p.wait_until(lambda: api_request(sink_port, "GET", "/ready", key=None)[0] == 200)
            bodies = []
            for port, routes in ((worker_port, WORKER_ROUTES), (sink_port, SINK_ROUTES)):
                for method, path in routes:
                    body = ORDER if path == "/orders" else b"SELECT 1" if path == "/sql" else None
                    status, answer = api_request(port, method, path, body, key=None)
                    bodies.append(answer)
                    if path in OPEN:
                        assert status == 200, (port, path, status, answer)
                    else:
                        assert status == 401, (port, path, status, answer)
                    status, answer = api_request(port, method, path, body, key=BOB_KEY)
                    bodies.append(answer)
                    if path in ACCOUNT_ROUTES or path in ("/orders", "/sql"):
                        assert status == 403, (port, path, status, answer)
                    elif path.startswith(("/table", "/router", "/stats", "/graph", "/no-")):
                        assert status == 404, (port, path, status, answer)  # Faust's pages off
            # The right keys still get through, routed between workers or not.
            assert api_request(worker_port, "GET", "/accounts/alice", key=ALICE_KEY)[0] == 200
            status, answer = api_request(sink_port, "POST", "/sql", b"SELECT 1", key=ADMIN_KEY)
            assert (status, answer["rows"]) == (200, [[1]])
            status, answer = api_request(sink_port, "POST", "/sql", b"SELECT nonsense", ADMIN_KEY)
            bodies.append(answer)
            assert status == 400
            quoted = urllib.parse.quote("/accounts/alice", safe="")
            bodies.append(api_request(worker_port, "GET", f"/table/{quoted}", key=None)[1])
        finally:
            sink.stop()
    text = (
        json.dumps(bodies) + (tmp_path / "w.log").read_text() + (tmp_path / "sink.log").read_text()
    )
    for secret in (ALICE_KEY, BOB_KEY, ADMIN_KEY, PASSWORD):
        assert secret not in text
