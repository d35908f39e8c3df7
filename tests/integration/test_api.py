"""The HTTP API over real HTTP: orders in, accounts, orders and trades out, behind API keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from aiokafka.partitioner import murmur2

from fillstream.auth import hash_key
from fillstream.broker.local import free_port
from tests.pipeline import Pipeline, api_request
from tests.support import WorkerProcess

ALICE_KEY = "alice-secret"


def order(order_id: str, account_id: str = "alice", **extra: str) -> bytes:
    body = {"order_id": order_id, "account_id": account_id, "symbol": "BTC", "side": "buy",
            "type": "market", "quantity": "2", **extra}  # fmt: skip
    return json.dumps(body).encode()


async def test_orders_accounts_and_their_errors(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    sink_port = str(free_port())
    extra = {
        "api_keys": {hash_key(ALICE_KEY): "account:alice"},
        "sink_url": f"http://127.0.0.1:{sink_port}",
    }
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "w.log", **extra) as p:
        sink_env = {**p.env, "FILLSTREAM_SINK_PORT": sink_port}
        sink = WorkerProcess([sys.executable, "-m", "fillstream.cli", "sink"], sink_env,
                             tmp_path / "sink.log").start()  # fmt: skip
        try:
            await p.instrument("BTC", taker_fee_bps="10")
            await p.account("alice", "1000")
            await p.account("bob", "1000")
            await p.tick("BTC", "100")

            assert p.api("POST", "/orders", order("a1"), key=None)[0] == 401
            assert p.api("POST", "/orders", order("a1"), key="wrong")[0] == 401
            status, body = p.api("POST", "/orders", order("b1", "bob"), key=ALICE_KEY)
            assert (status, body) == (403, {"error": "this key may not access account 'bob'"})
            status, body = p.api("POST", "/orders", b'{"order_id": "x", "side": "up"}', ALICE_KEY)
            assert status == 422
            assert {(tuple(e["loc"]), e["type"]) for e in body["errors"]} == {
                (("account_id",), "missing"), (("symbol",), "missing"), (("side",), "enum"),
                (("type",), "missing"), (("quantity",), "missing"),
            }  # fmt: skip
            assert p.api("POST", "/orders", b"{oops", ALICE_KEY)[1]["errors"][0]["type"] == (
                "json_invalid"
            )

            status, body = p.api("POST", "/orders", order("a1"), key=ALICE_KEY)
            assert (status, body) == (202, {"order_id": "a1", "account_id": "alice",
                                            "action": "new", "status": "submitted"})  # fmt: skip
            await p.order_events("a1")
            p.api("POST", "/orders", order("a2", type="limit", limit_price="90"), key=ALICE_KEY)
            await p.wait_for(lambda o: any(e["order_id"] == "a2" for e in o["order_events"]))
            await p.tick("BTC", "110")

            status, account = p.api("GET", "/accounts/alice", key=ALICE_KEY)
            # bought 2 at 100, fee 0.2: cash 799.8; marked at 110: equity 1019.8
            assert status == 200
            assert account == {
                "account_id": "alice", "status": "active", "firm_status": "active", "cash": "799.8",
                "equity": "1019.8", "peak_equity": "1019.8", "drawdown_pct": "0",
                "positions": [{"symbol": "BTC", "quantity": "2", "avg_price": "100",
                               "last_price": "110", "unrealized_pnl": "20"}],
                "resting_orders": [{"order_id": "a2", "status": "accepted", "symbol": "BTC",
                                    "side": "buy", "type": "limit", "quantity": "2",
                                    "filled_quantity": "0", "leaves_quantity": "2",
                                    "limit_price": "90", "time_in_force": "gtc"}],
            }  # fmt: skip
            assert p.api("GET", "/accounts/bob", key=ALICE_KEY)[0] == 403
            assert p.api("GET", "/accounts/nobody")[0] == 404
            assert p.api("GET", "/accounts/alice", key=None)[0] == 401

            status, placed = p.api("GET", "/accounts/alice/orders/a1", key=ALICE_KEY)
            assert status == 200
            assert (placed["status"], [f["fill_id"] for f in placed["fills"]]) == (
                "filled", ["alice#1"]
            )  # fmt: skip
            assert placed["fills"][0]["price"] == "100" and placed["fills"][0]["fee"] == "0.2"
            assert p.api("GET", "/accounts/alice/orders/a2")[1]["status"] == "accepted"
            assert p.api("GET", "/accounts/alice/orders/zz")[0] == 404

            for n in range(3, 6):
                p.api("POST", "/orders", order(f"a{n}", quantity="1"), key=ALICE_KEY)
                await p.order_events(f"a{n}")
            await p.wait_until(lambda: len(_all_trades(p)) == 4)
            pages, cursor = [], ""
            while cursor is not None:
                status, body = p.api("GET", f"/accounts/alice/trades?limit=2&cursor={cursor}")
                assert status == 200, body
                pages.append([t["fill_id"] for t in body["trades"]])
                cursor = body["next_cursor"]
            assert pages == [["alice#1", "alice#2"], ["alice#3", "alice#4"], []]
            first = _all_trades(p)[0]
            assert {k: first[k] for k in ("quantity", "price", "fee", "side", "liquidity")} == {
                "quantity": "2", "price": "100", "fee": "0.2", "side": "buy", "liquidity": "taker"
            }  # fmt: skip
            assert p.api("GET", "/accounts/alice/trades?limit=0")[0] == 422
            assert p.api("GET", "/accounts/alice/trades?cursor=%%%")[0] == 422
            assert p.api("GET", "/accounts/bob/trades", key=ALICE_KEY)[0] == 403
        finally:
            sink.stop()


def _all_trades(p: Pipeline) -> list[dict]:
    status, body = p.api("GET", "/accounts/alice/trades?limit=100")
    return body["trades"] if status == 200 else []


def partition_of(account_id: str, partitions: int = 4) -> int:
    return (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


async def test_any_worker_answers_for_any_account_from_its_own_address(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    """Two workers on different addresses (as on two hosts): each listens only on its own and
    advertises it, and each answers for the other's accounts by forwarding there."""
    accounts: dict[int, str] = {}
    for n in range(100):
        accounts.setdefault(partition_of(f"acct-{n}"), f"acct-{n}")
    assert sorted(accounts) == [0, 1, 2, 3], "one account on every partition"
    async with Pipeline(
        kafka_bootstrap, unique_id, data_dir, tmp_path / "w1.log", table_standby_replicas="0"
    ) as p:
        await p.instrument("BTC")
        for account in accounts.values():
            await p.account(account, "500")
        await p.tick("BTC", "100")
        for account in accounts.values():
            await p.order(account, "o1", "BTC", "buy", "1")
        await p.order_events("o1", terminal=len(accounts))
        port = str(free_port())
        second_env = {
            **p.env,
            "FILLSTREAM_DATA_DIR": str(tmp_path / "second"),
            "FILLSTREAM_WEB_PORT": port,
            "FILLSTREAM_WEB_BIND": "127.0.0.2",
            "FILLSTREAM_WEB_ADVERTISED_URL": f"http://127.0.0.2:{port}",
        }
        second = WorkerProcess(p.worker.command, second_env, tmp_path / "w2.log").start()
        try:
            workers = [("127.0.0.1", p.env["FILLSTREAM_WEB_PORT"]), ("127.0.0.2", port)]
            await p.wait_until(lambda: all(_owns_half(*w) for w in workers), timeout=90)
            assert api_request(port, "GET", "/health", key=None)[0] == 0, "not on 127.0.0.1"
            for account in accounts.values():
                answers = [
                    api_request(port, "GET", f"/accounts/{account}", host=host)
                    for host, port in workers
                ]
                assert answers[0] == answers[1]
                assert answers[0][0] == 200 and answers[0][1]["cash"] == "400"
        finally:
            second.stop()


def _owns_half(host: str, port: str) -> bool:
    """After the rebalance each worker holds two of the four partitions, and no standby."""
    status, body = api_request(port, "GET", "/market/BTC/", host=host)
    return status == 200 and sum(v is not None for v in body["partitions"].values()) == 2
