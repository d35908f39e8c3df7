"""Every reason code, duplicates and dead letters, through the real broker and worker."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.pipeline import Pipeline

VALID_ORDER = {
    "order_id": "o",
    "account_id": "dave",
    "symbol": "BTC",
    "side": "buy",
    "type": "market",
    "quantity": "1",
}


def outcome(pipeline: Pipeline, order_id: str) -> list[tuple[str, str | None]]:
    return [
        (e["status"], e.get("reason"))
        for e in pipeline.outputs()["order_events"]
        if e["order_id"] == order_id
    ]


async def test_every_reason_code_in_check_order(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC", lot_size="0.5")
        await p.instrument("ODDS", kind="prediction")
        await p.instrument("QUIET")
        await p.account("bob", "1000")
        await p.account("carol", "1000", max_order_pct="10")
        await p.tick("BTC", "100")
        await p.tick("ODDS", "0.25")
        orders = [
            ("bob", "zero", "BTC", "buy", "0", {}),
            ("bob", "odd-lot", "BTC", "buy", "0.3", {}),
            ("bob", "no-outcome", "ODDS", "buy", "1", {}),
            ("nobody", "ghost", "BTC", "buy", "1", {}),
            ("bob", "first", "BTC", "buy", "9", {}),
            ("bob", "first", "BTC", "buy", "1", {}),
            ("bob", "doge", "DOGE", "buy", "1", {}),
            ("bob", "quiet", "QUIET", "buy", "1", {}),
            ("carol", "too-big", "BTC", "buy", "2", {}),
            ("bob", "odds", "ODDS", "buy", "800", {"outcome": "yes"}),
            ("bob", "more-btc", "BTC", "buy", "2", {}),
            ("bob", "no-shares", "ODDS", "sell", "1", {"outcome": "no"}),
            ("bob", "reduce", "BTC", "sell", "1", {}),
        ]
        for account, order_id, symbol, side, quantity, extra in orders:
            await p.order(account, order_id, symbol, side, quantity, **extra)
        await p.order_events("reduce")
        await p.order_events("first", terminal=2)
        assert outcome(p, "zero") == [("rejected", "INVALID_ORDER")]
        assert outcome(p, "odd-lot") == [("rejected", "INVALID_ORDER")]
        assert outcome(p, "no-outcome") == [("rejected", "INVALID_ORDER")]
        assert outcome(p, "ghost") == [("rejected", "UNKNOWN_ACCOUNT")]
        # 9 BTC at 100: exposure 900 <= equity 1000; cash left 100.
        assert outcome(p, "first") == [
            ("accepted", None),
            ("filled", None),
            ("rejected", "DUPLICATE_ORDER_ID"),
        ]
        assert outcome(p, "doge") == [("rejected", "UNKNOWN_SYMBOL")]
        assert outcome(p, "quiet") == [("rejected", "NO_MARKET_DATA")]
        # 2 * 100 = 200 > 10 % of 1000
        assert outcome(p, "too-big") == [("rejected", "RISK_LIMIT")]
        # 800 YES at 0.25 = 200 > cash 100
        assert outcome(p, "odds") == [("rejected", "INSUFFICIENT_FUNDS")]
        # exposure after 11 * 100 = 1100 > equity 1000 at leverage 1
        assert outcome(p, "more-btc") == [("rejected", "INSUFFICIENT_FUNDS")]
        assert outcome(p, "no-shares") == [("rejected", "INSUFFICIENT_POSITION")]
        assert outcome(p, "reduce") == [("accepted", None), ("filled", None)]
        zero = next(e for e in p.outputs()["order_events"] if e["order_id"] == "zero")
        assert zero["detail"] == "quantity must be positive"


async def test_bad_messages_go_to_dead_letters_and_processing_continues(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument("BTC")
        await p.account("dave", "1000")
        await p.tick("BTC", "100")
        await p.send("orders", "dave", b'{"order_id": "x", "account_id": ')
        await p.send("orders", "dave", b"\xff\xfe\x00binary")
        await p.send("orders", "dave", {"order_id": "o", "account_id": "dave", "side": "buy"})
        await p.send(
            "orders",
            "dave",
            {**VALID_ORDER, "limit_prise": "5"},
        )
        await p.send(
            "orders",
            "erin",
            VALID_ORDER,
        )
        await p.send("ticks", "BTC", {"symbol": "BTC", "price": "NaN", "ts": "2026-01-01T00:00Z"})
        await p.send("accounts", "zed", {"account_id": "zed", "starting_balance": "-5"})
        await p.order("dave", "good", "BTC", "buy", "1")
        events = await p.order_events("good")
        assert [e["status"] for e in events] == ["accepted", "filled"]
        letters = (await p.wait_for(lambda o: len(o["dead_letters"]) == 7))["dead_letters"]
        by_value = {letter["value"]: letter for letter in letters}
        malformed = by_value['{"order_id": "x", "account_id": ']
        assert malformed["error"].startswith("malformed JSON")
        assert (malformed["source_topic"], malformed["key"]) == (p.topic("orders"), "dave")
        assert isinstance(malformed["partition"], int) and isinstance(malformed["offset"], int)
        binary = by_value[base64.b64encode(b"\xff\xfe\x00binary").decode()]
        assert binary["value_encoding"] == "base64"
        assert binary["error"].startswith("value is not UTF-8")
        assert sorted(letter["error"] for letter in letters) == [
            "key 'erin' must equal account_id 'dave'",
            "malformed JSON: Expecting value: line 1 column 33 (char 32)",
            "schema: limit_prise: Extra inputs are not permitted",
            "schema: price: Input should be a finite number",
            "schema: starting_balance: Input should be greater than 0",
            "schema: symbol: Field required; type: Field required; quantity: Field required",
            "value is not UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: "
            "invalid start byte",
        ]
