"""The ready queries of docs/analytics.md, as written, on a small hand-computed scenario."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from tests.support import SinkProcess, Upstream

ANALYTICS = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"


def documented_queries() -> dict[str, str]:
    text = ANALYTICS.read_text()
    return dict(re.findall(r"^### ([\w-]+)\n.*?```sql\n(.*?)```", text, re.S | re.M))


def trade(account, n, symbol, side, qty, price, fee, pnl, ts, equity, liquidation=False) -> dict:
    return {
        "fill_id": f"{account}:o{n}", "order_id": f"o{n}", "account_id": account,
        "symbol": symbol, "side": side, "quantity": qty, "price": price, "fee": fee,
        "liquidity": "taker", "liquidation": liquidation, "ts": ts, "position_quantity": "0",
        "position_avg_price": "0", "cash_after": "0", "equity_after": equity,
        "realized_pnl": pnl,
    }  # fmt: skip


FILLS = [
    trade("ann", 1, "BTC", "buy", "1", "100", "0.1", "0", "2026-04-01T09:15:00Z", "9999.9"),
    trade("ann", 2, "BTC", "sell", "1", "110", "0.11", "10", "2026-04-01T09:45:00Z", "10009.79"),
    trade("ann", 3, "ETH", "buy", "2", "50", "0.1", "0", "2026-04-02T10:05:00Z", "10009.69"),
    trade("ben", 4, "BTC", "sell", "0.5", "120", "0.06", "0", "2026-04-01T10:30:00Z", "9999.94"),
    trade("ben", 5, "BTC", "buy", "0.5", "130", "0.065", "-5", "2026-04-01T10:50:00Z",
          "9994.875", liquidation=True),
]  # fmt: skip
NONE = {"filled_quantity": "0", "leaves_quantity": "0"}
ORDER_EVENTS = [
    {"order_id": "r1", "account_id": "ann", "status": "rejected", "reason": "RISK_LIMIT",
     "ts": "2026-04-01T09:00:00Z", **NONE},
    {"order_id": "r2", "account_id": "ben", "status": "rejected", "reason": "RISK_LIMIT",
     "ts": "2026-04-01T09:01:00Z", **NONE},
    {"order_id": "r3", "account_id": "ann", "status": "rejected", "reason": "UNKNOWN_SYMBOL",
     "ts": "2026-04-01T09:02:00Z", **NONE},
    {"order_id": "o1", "account_id": "ann", "status": "accepted", "ts": "2026-04-01T09:15:00Z",
     "filled_quantity": "0", "leaves_quantity": "1"},
    {"order_id": "o1", "account_id": "ann", "status": "filled", "ts": "2026-04-01T09:15:00Z",
     "filled_quantity": "1", "leaves_quantity": "0", "avg_price": "100"},
    {"order_id": "l1", "account_id": "ben", "status": "accepted", "ts": "2026-04-01T09:20:00Z",
     "filled_quantity": "0", "leaves_quantity": "1"},
    {"order_id": "l1", "account_id": "ben", "status": "partially_filled",
     "ts": "2026-04-01T09:21:00Z", "filled_quantity": "0.3", "leaves_quantity": "0.7",
     "avg_price": "99.5"},
    {"order_id": "l1", "account_id": "ben", "status": "cancelled", "ts": "2026-04-01T09:22:00Z",
     "filled_quantity": "0.3", "leaves_quantity": "0", "avg_price": "99.5"},
]  # fmt: skip


def evaluation(account, program, outcome, rule, threshold, measured, ts, day=None) -> dict:
    return {
        "type": "evaluation", "account_id": account, "program_id": program, "outcome": outcome,
        "rule": rule, "threshold": threshold, "measured": measured, "detail": "", "ts": ts,
        **({"day": day} if day else {}),
    }  # fmt: skip


RISK_EVENTS = [
    {"type": "drawdown_violation", "account_id": "ben", "max_drawdown_pct": "0.05",
     "drawdown_pct": "0.0506", "equity": "9994.875", "peak_equity": "9999.94",
     "ts": "2026-04-01T10:50:00Z"},
    {"type": "account_status", "account_id": "ben", "status": "halted",
     "reason": "drawdown_violation", "ts": "2026-04-01T10:50:00Z"},
    evaluation("cat", "ftmo", "day_closed", "program_day", "2000", "2200",
               "2026-04-02T00:00:01Z", day="2026-04-01"),
    evaluation("cat", "ftmo", "passed", "profit_target", "200", "200", "2026-04-02T09:00:00Z"),
    evaluation("dan", "ftmo", "day_closed", "program_day", "2000", "1950",
               "2026-04-02T00:00:05Z", day="2026-04-01"),
    evaluation("dan", "ftmo", "failed", "daily_loss", "100", "101", "2026-04-02T11:00:00Z"),
    evaluation("eve", "ny", "locked", "daily_loss", "50", "60", "2026-04-01T15:00:00Z"),
    evaluation("eve", "ny", "unlocked", "daily_loss", "0", "0", "2026-04-01T21:00:01Z"),
    evaluation("eve", "ny", "day_closed", "program_day", "2000", "1940",
               "2026-04-01T21:00:01Z", day="2026-04-01"),
    evaluation("fay", "ny", "locked", "daily_loss", "50", "54", "2026-04-01T16:00:00Z"),
]  # fmt: skip


def normalised(rows: list[list]) -> list[list]:
    """Decimals as Decimal, so 10.000000000000000000 equals 10."""

    def value(v):
        if isinstance(v, str) and re.fullmatch(r"-?\d+\.\d+", v):
            return Decimal(v)
        return v

    return [[value(v) for v in row] for row in rows]


def D(text: str) -> Decimal:
    return Decimal(text)


async def test_documented_queries_return_hand_computed_numbers(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    queries = documented_queries()
    assert sorted(queries) == [
        "daily-pnl",
        "drawdown-paths",
        "hourly-volume",
        "order-outcomes",
        "program-days",
        "program-outcomes",
        "rejections",
        "rule-breaches",
        "top-and-bottom",
    ]
    sink = SinkProcess(kafka_bootstrap, unique_id, data_dir, tmp_path / "sink.log")
    await ensure_topics(Kafka(kafka_bootstrap), pipeline_topics(sink.settings), partitions=4)
    async with Upstream(kafka_bootstrap) as upstream:
        for name, messages in (
            ("fills", FILLS),
            ("order_events", ORDER_EVENTS),
            ("risk_events", RISK_EVENTS),
        ):
            for message in messages:
                await upstream.send(sink.settings.topic(name), message["account_id"], message)
    sink.start()
    try:
        sink.wait_for_rows(
            "SELECT (SELECT count() FROM trades), (SELECT count() FROM orders),"
            " (SELECT count() FROM risk_events)",
            [[5, 8, 10]],
        )
        results = {name: normalised(sink.sql(sql)) for name, sql in queries.items()}
    finally:
        sink.process.stop()

    # ann: 10 realized, fees 0.1 + 0.11 on the 1st; 0.1 fee on the 2nd. ben: -5, 0.06 + 0.065.
    assert results["daily-pnl"] == [
        ["ann", "2026-04-01", 2, D("10"), D("0.21"), D("9.79")],
        ["ann", "2026-04-02", 1, D("0"), D("0.1"), D("-0.1")],
        ["ben", "2026-04-01", 2, D("-5"), D("0.125"), D("-5.125")],
    ]
    # BTC 09h: 1 + 1 at 100 and 110; 10h: 0.5 at 120 and 0.5 at 130. ETH 10h on the 2nd: 2 at 50.
    assert results["hourly-volume"] == [
        ["BTC", "2026-04-01T09:00:00Z", 2, D("2"), D("210")],
        ["BTC", "2026-04-01T10:00:00Z", 2, D("1"), D("125")],
        ["ETH", "2026-04-02T10:00:00Z", 1, D("2"), D("100")],
    ]
    assert results["rejections"] == [["RISK_LIMIT", 2, 2], ["UNKNOWN_SYMBOL", 1, 1]]
    # l1 cancelled with 0.3 of it filled at 99.5; o1 filled whole at 100; three rejected.
    assert results["order-outcomes"] == [
        ["cancelled", 1, 1, D("0.3"), D("29.85")],
        ["filled", 1, 1, D("1"), D("100")],
        ["rejected", 3, 0, D("0"), D("0")],
    ]
    assert results["drawdown-paths"] == [
        ["ben", "2026-04-01T10:50:00Z", D("0.0506"), "2026-04-01T10:30:00Z",
         "ben:o4", D("9999.94"), D("9999.94")],
        ["ben", "2026-04-01T10:50:00Z", D("0.0506"), "2026-04-01T10:50:00Z",
         "ben:o5", D("9994.875"), D("9999.94")],
    ]  # fmt: skip
    # cat passed, dan failed; eve's lock was lifted, fay's stands. Breaches: failures, locks.
    assert results["program-outcomes"] == [
        ["ftmo", "failed", 1, 1],
        ["ftmo", "passed", 1, 0],
        ["ny", "locked", 1, 1],
        ["ny", "unlocked", 1, 1],
    ]
    # 1 April: cat +200, dan -50 (ftmo, Prague); eve -60 (ny, the day ending at 17:00).
    assert results["program-days"] == [
        ["ftmo", "2026-04-01", 2, D("150"), 1],
        ["ny", "2026-04-01", 1, D("-60"), 1],
    ]
    assert results["rule-breaches"] == [
        ["ftmo", "daily_loss", "failed", 1, D("1")],
        ["ny", "daily_loss", "locked", 2, D("7")],
    ]
    assert results["top-and-bottom"] == [
        ["ann", D("10009.69"), 3, D("9.69")],
        ["ben", D("9994.875"), 2, D("-5.125")],
    ]
