"""Prometheus metrics of a worker, one registry per process, named by Prometheus conventions."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter(
    "fillstream_messages_in_total", "Records processed, by source topic.", ["topic"]
)
MESSAGES_OUT = Counter(
    "fillstream_messages_out_total", "Records published, by destination topic.", ["topic"]
)
PROCESSING_SECONDS = Histogram(
    "fillstream_processing_seconds",
    "Time to process one input record, by agent.",
    ["agent"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
)
ORDER_EVENTS = Counter(
    "fillstream_order_events_total", "Order events, by status and reason.", ["status", "reason"]
)
FILLS = Counter(
    "fillstream_fills_total",
    "Fills, by liquidity and whether forced.",
    ["liquidity", "liquidation"],
)
DRAWDOWN_VIOLATIONS = Counter(
    "fillstream_drawdown_violations_total", "Accounts halted for breaching their drawdown limit."
)
EVALUATIONS = Counter(
    "fillstream_evaluations_total",
    "Evaluation programs' decisions: passed, failed, locked, unlocked, by rule.",
    ["outcome", "rule"],
)
DEAD_LETTERS = Counter(
    "fillstream_dead_letters_total", "Records sent to the dead letters, by source topic.", ["topic"]
)
CLOCK_SKEW_REPLACED = Counter(
    "fillstream_clock_skew_replaced_total",
    "Inputs whose own ts was too far from their Kafka record's time, by topic.",
    ["topic"],
)
TICKS_APPLIED = Counter(
    "fillstream_ticks_applied_total", "Ticks the execution agent applied (once per partition)."
)
TICK_VISITS = Counter(
    "fillstream_tick_visits_total",
    "Accounts those ticks acted on: the level index's visits (each marked, its levels renewed).",
)
CONSUMER_LAG = Gauge(
    "fillstream_consumer_lag", "Records behind the end of each assigned partition.",
    ["topic", "partition"],
)  # fmt: skip
TABLE_KEYS = Gauge(
    "fillstream_table_keys", "Keys held locally per table (active and standby partitions).",
    ["table"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "fillstream_http_request_seconds", "HTTP request latency, by route and status.",
    ["route", "status"],
)  # fmt: skip
SINK_ROWS = Counter("fillstream_sink_rows_total", "Rows the sink inserted, by table.", ["table"])
SINK_BATCHES = Counter("fillstream_sink_batches_total", "Batches inserted, by table.", ["table"])
SINK_ERRORS = Counter("fillstream_sink_errors_total", "Failed ClickHouse inserts.")
SINK_REFUSED = Counter(
    "fillstream_sink_refused_rows_total",
    "Records the sink could not turn into a row (logged with their offset), by table.",
    ["table"],
)
SINK_LAG = Gauge(
    "fillstream_sink_lag", "Records not yet in ClickHouse, per partition.", ["topic", "partition"]
)
