"""Turns the output topics' JSON into table rows, with the Kafka coordinates of each record."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

SCALE = Decimal("1e-18")


def _money(value: str | None) -> Decimal | None:
    """Decimal(38, 18) holds 18 places; averages can carry more, so they are rounded half-even."""
    return None if value is None else Decimal(value).quantize(SCALE, ROUND_HALF_EVEN)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _trade(v: dict[str, Any]) -> list[Any]:
    return [
        v["fill_id"], v["order_id"], v["account_id"], v["symbol"], v["side"],
        v.get("outcome", ""), _money(v["quantity"]), _money(v["price"]), _money(v["fee"]),
        _money(str(Decimal(v["quantity"]) * Decimal(v["price"]))),
        v["liquidity"], v["liquidation"], _time(v["ts"]), _money(v["position_quantity"]),
        _money(v["position_avg_price"]), _money(v["cash_after"]), _money(v["equity_after"]),
        _money(v["realized_pnl"]),
    ]  # fmt: skip


def _order(v: dict[str, Any]) -> list[Any]:
    return [
        v["order_id"], v["account_id"], v["status"], v.get("reason", ""), v.get("detail", ""),
        _time(v["ts"]),
    ]  # fmt: skip


def _risk(v: dict[str, Any]) -> list[Any]:
    return [
        v["type"], v["account_id"], v.get("status", ""), v.get("reason", ""),
        _money(v.get("max_drawdown_pct")), _money(v.get("drawdown_pct")), _money(v.get("equity")),
        _money(v.get("peak_equity")), _time(v["ts"]),
    ]  # fmt: skip


KAFKA = ["kafka_topic", "kafka_partition", "kafka_offset"]


class TableSpec:
    def __init__(self, table: str, columns: list[str], row: Callable[[dict], list[Any]]) -> None:
        self.table = table
        self.columns = [*columns, *KAFKA]
        self.row = row

    def to_row(self, topic: str, partition: int, offset: int, value: bytes) -> list[Any]:
        return [*self.row(json.loads(value)), topic, partition, offset]


TRADES = TableSpec(
    "trades",
    ["fill_id", "order_id", "account_id", "symbol", "side", "outcome", "quantity", "price", "fee",
     "notional", "liquidity", "liquidation", "ts", "position_quantity", "position_avg_price",
     "cash_after", "equity_after", "realized_pnl"],
    _trade,
)  # fmt: skip
ORDERS = TableSpec("orders", ["order_id", "account_id", "status", "reason", "detail", "ts"], _order)
RISK_EVENTS = TableSpec(
    "risk_events",
    ["type", "account_id", "status", "reason", "max_drawdown_pct", "drawdown_pct", "equity",
     "peak_equity", "ts"],
    _risk,
)  # fmt: skip
