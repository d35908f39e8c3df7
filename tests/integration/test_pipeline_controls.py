"""Operators' controls through the real broker and a worker process: each state's rules on
orders, flatten and close at the market, refusals, and an audit record for every control."""

from __future__ import annotations

import json
from pathlib import Path

from fillstream.auth import hash_key
from tests.pipeline import ADMIN_KEY, Pipeline

TRADER_KEY = "ann-trader-key"


def controls(outputs: dict[str, list[dict]]) -> list[tuple]:
    return [
        (e["account_id"], e["action"], e["result"], e["operator"], e["detail"])
        for e in outputs["risk_events"]
        if e["type"] == "control"
    ]


async def test_halt_reduce_resume_flatten_and_close_one_account(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    keys = {hash_key(TRADER_KEY): "account:ann"}
    async with Pipeline(
        kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log", api_keys=keys
    ) as p:
        await p.instrument("BTC")
        await p.account("ann", "1000")
        await p.account("bob", "1000")
        await p.tick("BTC", "100")
        await p.order("ann", "a1", "BTC", "buy", "3")
        await p.order("ann", "a2", "BTC", "buy", "1", limit_price="90")
        await p.order("ann", "a3", "BTC", "sell", "1", limit_price="120")
        await p.order("bob", "b1", "BTC", "buy", "1", limit_price="80")
        await p.order_events("a1")

        admin = hash_key(ADMIN_KEY)[:12]
        body = json.dumps({"action": "reduce", "reason": "risk review"}).encode()
        assert p.api("POST", "/accounts/ann/controls", body, key=TRADER_KEY)[0] == 403
        bad = json.dumps({"action": "explode"}).encode()
        assert p.api("POST", "/accounts/ann/controls", bad)[0] == 422
        assert p.api("POST", "/accounts/ann/controls", body) == (
            202, {"account_id": "ann", "action": "reduce", "status": "submitted"})  # fmt: skip
        # The resting buy would grow the long: cancelled; the resting sell reduces it: kept.
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a2")] == [
            ("accepted", None), ("cancelled", "ACCOUNT_REDUCING")]  # fmt: skip
        await p.order("ann", "a4", "BTC", "buy", "1")
        await p.order("ann", "a5", "BTC", "sell", "1")
        assert [e["status"] for e in await p.order_events("a5")] == ["accepted", "filled"]
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a4")] == [
            ("rejected", "ACCOUNT_REDUCING")]  # fmt: skip

        # Straight on the topic, as an operator's tool would send it.
        await p.send("controls", "ann", {"account_id": "ann", "action": "halt",
                                         "operator": "desk-7", "reason": "news"})  # fmt: skip
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a3")] == [
            ("accepted", None), ("cancelled", "ACCOUNT_HALTED")]  # fmt: skip
        await p.order("ann", "a6", "BTC", "sell", "1")
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a6")] == [
            ("rejected", "ACCOUNT_HALTED")]  # fmt: skip
        assert p.api("GET", "/accounts/ann")[1]["status"] == "halted"

        await p.send("controls", "ann", {"account_id": "ann", "action": "resume",
                                         "operator": "desk-7"})  # fmt: skip
        await p.wait_for(lambda o: len(controls(o)) == 3)
        await p.tick("BTC", "110")
        await p.order("ann", "a7", "BTC", "buy", "1")  # at 110: long 3 again
        await p.order_events("a7")

        # Flatten: the long 3 sold at 120; bob's resting order is not his concern.
        await p.tick("BTC", "120")
        flatten = json.dumps({"action": "flatten"}).encode()
        assert p.api("POST", "/accounts/ann/controls", flatten)[0] == 202
        outputs = await p.wait_for(lambda o: len(controls(o)) == 4 and any(
            f["order_id"].startswith("~liquidation") for f in o["fills"]))  # fmt: skip
        (close,) = [f for f in outputs["fills"] if f["order_id"].startswith("~liquidation")]
        # 3 bought at 100, 1 sold at 100, 1 bought at 110: the 3 held cost 310, sold for 360.
        assert (close["side"], close["quantity"], close["price"], close["realized_pnl"]) == (
            "sell", "3", "120", "50")  # fmt: skip
        # 1000 - 300 + 100 - 110 + 360
        assert close["cash_after"] == "1050"

        closing = {"account_id": "ann", "action": "close", "operator": "desk-7",
                   "reason": "challenge over"}  # fmt: skip
        await p.send("controls", "ann", closing)
        await p.send("controls", "ann", {"account_id": "ann", "action": "resume",
                                         "operator": "desk-7"})  # fmt: skip
        await p.send("controls", "zed", {"account_id": "zed", "action": "halt",
                                         "operator": "desk-7"})  # fmt: skip
        await p.send("controls", "ann", {"account_id": "ann", "action": "explode",
                                         "operator": "desk-7"})  # fmt: skip
        await p.order("ann", "a8", "BTC", "buy", "1")
        assert [(e["status"], e.get("reason")) for e in await p.order_events("a8")] == [
            ("rejected", "ACCOUNT_CLOSED")]  # fmt: skip
        outputs = await p.wait_for(lambda o: len(controls(o)) == 7 and o["dead_letters"])
        assert controls(outputs) == [
            ("ann", "reduce", "applied", f"api:{admin}", "active -> reducing"),
            ("ann", "halt", "applied", "desk-7", "reducing -> halted"),
            ("ann", "resume", "applied", "desk-7", "halted -> active"),
            ("ann", "flatten", "applied", f"api:{admin}", "active -> active"),
            ("ann", "close", "applied", "desk-7", "active -> closed"),
            ("ann", "resume", "refused", "desk-7", "the account is closed"),
            ("zed", "halt", "refused", "desk-7", "no such account"),
        ]
        (dead,) = outputs["dead_letters"]
        expected = "Input should be 'halt', 'reduce', 'resume', 'flatten' or 'close'"
        assert dead["error"] == f"schema: action: {expected}"
        statuses = [
            (e["status"], e["reason"]) for e in outputs["risk_events"]
            if e["type"] == "account_status" and e["account_id"] == "ann"
        ]  # fmt: skip
        assert statuses[1:] == [
            ("reducing", "control: reduce"), ("halted", "control: halt"),
            ("active", "control: resume"), ("closed", "control: close"),
        ]  # fmt: skip
        view = p.api("GET", "/accounts/ann")[1]
        assert (view["status"], view["cash"], view["positions"]) == ("closed", "1050", [])
        # Bob was never touched.
        assert p.api("GET", "/accounts/bob")[1]["status"] == "active"
        assert [o["order_id"] for o in p.api("GET", "/accounts/bob")[1]["resting_orders"]] == [
            "b1"]  # fmt: skip
