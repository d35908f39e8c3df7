"""The firm-wide kill switch through the real broker: one message halts every partition's
accounts, each partition audits it, and a resume leaves an account's own halt in place."""

from __future__ import annotations

import json
from pathlib import Path

from aiokafka.partitioner import murmur2

from fillstream.auth import hash_key
from tests.pipeline import ADMIN_KEY, Pipeline

TRADER_KEY = "a-trader-key"


def one_account_per_partition(partitions: int = 4) -> list[str]:
    accounts: dict[int, str] = {}
    n = 0
    while len(accounts) < partitions:
        account_id = f"trader-{n}"
        accounts.setdefault((murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions, account_id)
        n += 1
    return [accounts[p] for p in range(partitions)]


def firm_audits(outputs: dict[str, list[dict]], action: str) -> list[tuple[str, str]]:
    return sorted(
        (e["operator"], e["detail"])
        for e in outputs["risk_events"]
        if e["type"] == "control" and e["account_id"] == "~firm" and e["action"] == action
    )


async def statuses(p: Pipeline, order_id: str) -> list[tuple[str, str | None]]:
    return [(e["status"], e.get("reason")) for e in await p.order_events(order_id)]


async def test_the_kill_switch_halts_every_partition_and_resumes_it(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    accounts = one_account_per_partition()
    keys = {hash_key(TRADER_KEY): f"account:{accounts[0]}"}
    async with Pipeline(
        kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log", api_keys=keys
    ) as p:
        await p.instrument("BTC")
        await p.tick("BTC", "100")
        for account_id in accounts:
            await p.account(account_id, "1000")
            await p.order(account_id, f"{account_id}-long", "BTC", "buy", "2")
            await p.order(account_id, f"{account_id}-bid", "BTC", "buy", "1", limit_price="90")
        for account_id in accounts:
            await p.order_events(f"{account_id}-long")

        body = json.dumps({"action": "halt", "reason": "exchange outage"}).encode()
        assert p.api("POST", "/controls", body, key=TRADER_KEY)[0] == 403
        closing = json.dumps({"action": "close"}).encode()
        assert p.api("POST", "/controls", closing)[0] == 422
        assert p.api("POST", "/controls", body) == (
            202, {"action": "halt", "status": "submitted"})  # fmt: skip
        admin = f"api:{hash_key(ADMIN_KEY)[:12]}"
        outputs = await p.wait_for(lambda o: len(firm_audits(o, "halt")) == 4)
        assert firm_audits(outputs, "halt") == [
            (admin, f"partition {partition}: trading halted") for partition in range(4)
        ]
        for account_id in accounts:
            (cancelled,) = [
                e for e in await p.order_events(f"{account_id}-bid") if e["status"] == "cancelled"
            ]
            assert (cancelled["reason"], cancelled["detail"]) == (
                "ACCOUNT_HALTED", f"cancelled by the firm-wide halt ({admin})")  # fmt: skip
            await p.order(account_id, f"{account_id}-late", "BTC", "sell", "1")
            assert await statuses(p, f"{account_id}-late") == [("rejected", "ACCOUNT_HALTED")]
            view = p.api("GET", f"/accounts/{account_id}")[1]
            assert (view["status"], view["firm_status"], view["resting_orders"]) == (
                "active", "halted", [])  # fmt: skip
            assert view["positions"][0]["quantity"] == "2"

        # One account halted on its own stays halted when the firm resumes.
        await p.send("controls", accounts[1], {"account_id": accounts[1], "action": "halt",
                                               "operator": "desk-7"})  # fmt: skip
        await p.send("firm-controls", "firm", {"action": "resume", "operator": "desk-7"})
        outputs = await p.wait_for(lambda o: len(firm_audits(o, "resume")) == 4)
        for n, account_id in enumerate(accounts):
            await p.order(account_id, f"{account_id}-again", "BTC", "sell", "1")
            expected = [("rejected", "ACCOUNT_HALTED")] if n == 1 else [
                ("accepted", None), ("filled", None)]  # fmt: skip
            assert await statuses(p, f"{account_id}-again") == expected

        # Flatten closes every position in every partition (the halted account's too).
        await p.tick("BTC", "110")
        await p.send("firm-controls", "firm", {"action": "flatten", "operator": "desk-7"})
        outputs = await p.wait_for(
            lambda o: (
                sum(f["order_id"].startswith("~liquidation") for f in o["fills"]) == 4
                and len(firm_audits(o, "flatten")) == 4
            )  # the audits travel on another topic
        )
        closes = sorted(
            (f["account_id"], f["quantity"], f["price"], f["realized_pnl"])
            for f in outputs["fills"] if f["order_id"].startswith("~liquidation")
        )  # fmt: skip
        assert closes == sorted(
            (a, "2" if n == 1 else "1", "110", "20" if n == 1 else "10")
            for n, a in enumerate(accounts)
        )
        assert firm_audits(outputs, "flatten") == [
            ("desk-7", f"partition {partition}: every position closed") for partition in range(4)
        ]
        assert p.api("GET", f"/accounts/{accounts[0]}")[1]["firm_status"] == "active"
