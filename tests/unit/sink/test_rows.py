"""The sink's conversion of output records into Arrow columns: exact money, times, bad records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from fillstream.metrics import SINK as REGISTRY
from fillstream.sink.rows import ORDERS, RISK_EVENTS, TRADES


def record(offset: int, value: dict | bytes) -> SimpleNamespace:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return SimpleNamespace(offset=offset, value=raw)


FILL = {
    "fill_id": "ann:o1", "order_id": "o1", "account_id": "ann", "symbol": "BTC", "side": "buy",
    "quantity": "0.003", "price": "64000.25", "fee": "0.0960003750", "liquidity": "taker",
    "liquidation": False, "ts": "2026-04-01T10:00:00.125Z", "position_quantity": "0.009",
    "position_avg_price": "64000.333333333333333333333", "cash_after": "807.9", "equity_after":
    "999.5", "realized_pnl": "-0.5",
}  # fmt: skip


def test_trades_keep_exact_money_and_round_long_averages_half_even() -> None:
    table = TRADES.to_arrow("fills", 2, [record(7, FILL)])
    row = table.to_pylist()[0]
    assert row["quantity"] == Decimal("0.003")
    assert row["fee"] == Decimal("0.096000375")
    assert row["notional"] == Decimal("192.00075")
    assert row["position_avg_price"] == Decimal("64000.333333333333333333")
    assert row["realized_pnl"] == Decimal("-0.5")
    assert row["ts"] == datetime(2026, 4, 1, 10, 0, 0, 125000, tzinfo=UTC)
    assert (row["outcome"], row["liquidation"]) == ("", False)
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("fills", 2, 7)


def test_a_bad_record_is_left_out_and_the_rest_kept() -> None:
    records = [
        record(1, b"{not json"),
        record(2, {**FILL, "price": "a lot"}),
        record(3, {**FILL, "quantity": 3}),
        record(4, {key: value for key, value in FILL.items() if key != "fill_id"}),
        record(5, {**FILL, "fill_id": None}),
        record(6, {**FILL, "fee": None}),
        record(7, FILL),
    ]
    refused = REGISTRY.get_sample_value("fillstream_sink_refused_rows_total", {"table": "trades"})
    table = TRADES.to_arrow("fills", 0, records)
    assert table.column("kafka_offset").to_pylist() == [7]
    after = REGISTRY.get_sample_value("fillstream_sink_refused_rows_total", {"table": "trades"})
    assert after - (refused or 0) == 6


def test_every_amount_the_engine_can_reach_fits_and_beyond_it_is_refused_loudly() -> None:
    # 10^12 shares at 10^12: a position worth 10^24, past Decimal(38, 18)'s 20 integer digits.
    huge = {**FILL, "quantity": "1000000000000", "price": "1000000000000",
            "equity_after": "1000000000000000000000000.000000000000000001"}  # fmt: skip
    beyond = {**FILL, "cash_after": "1" + "0" * 58}  # 59 integer digits
    table = TRADES.to_arrow("fills", 0, [record(1, huge), record(2, beyond)])
    (row,) = table.to_pylist()
    assert row["notional"] == Decimal(10) ** 24
    assert row["equity_after"] == Decimal("1000000000000000000000000.000000000000000001")


def test_orders_and_risk_events_take_optional_fields_and_other_time_zones() -> None:
    order = {"order_id": "o1", "account_id": "ann", "status": "accepted",
             "ts": "2026-04-01T12:00:00+02:00"}  # fmt: skip
    assert ORDERS.to_arrow("order-events", 0, [record(0, order)]).to_pylist()[0] == {
        "order_id": "o1", "account_id": "ann", "status": "accepted", "reason": "", "detail": "",
        "ts": datetime(2026, 4, 1, 10, 0, tzinfo=UTC), "filled_quantity": None,
        "leaves_quantity": None, "avg_price": None, "kafka_topic": "order-events",
        "kafka_partition": 0, "kafka_offset": 0,
    }  # fmt: skip
    partial = {**order, "status": "partially_filled", "filled_quantity": "0.3",
               "leaves_quantity": "0.7", "avg_price": "100.25"}  # fmt: skip
    row = ORDERS.to_arrow("order-events", 0, [record(1, partial)]).to_pylist()[0]
    assert (row["filled_quantity"], row["leaves_quantity"], row["avg_price"]) == (
        Decimal("0.3"), Decimal("0.7"), Decimal("100.25"))  # fmt: skip
    opened = {"type": "account_status", "account_id": "ann", "status": "active",
              "reason": "opened", "ts": "2026-04-01T10:00:00Z"}  # fmt: skip
    row = RISK_EVENTS.to_arrow("risk-events", 1, [record(3, opened)]).to_pylist()[0]
    assert (row["equity"], row["max_drawdown_pct"], row["reason"]) == (None, None, "opened")
    rejected = {**order, "status": "rejected", "reason": None}
    assert ORDERS.to_arrow("order-events", 0, [record(1, rejected)]).to_pylist()[0]["reason"] == ""
