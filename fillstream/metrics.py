"""Prometheus metrics, named by Prometheus conventions (units in the names), in two registries: a
worker serves `WORKER`'s series and the sink `SINK`'s, each with the process's own and
`fillstream_build_info`, so no process exposes series it never updates."""

from __future__ import annotations

import platform
from importlib.metadata import version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# A `_created` series beside every counter doubles what Prometheus stores, for nothing we use.
disable_created_metrics()

WORKER = CollectorRegistry()
SINK = CollectorRegistry()
for _role, _registry in (("worker", WORKER), ("sink", SINK)):
    ProcessCollector(registry=_registry)
    PlatformCollector(registry=_registry)
    Info("fillstream_build", "The running code: versions of fillstream and its engines.",
         registry=_registry).info({
        "role": _role, "version": version("fillstream"), "python": platform.python_version(),
        "faust": version("faust-streaming"), "aiokafka": version("aiokafka"),
    })  # fmt: skip

# The worker's.
MESSAGES_IN = Counter(
    "fillstream_messages_in_total",
    "Records processed, by source topic.",
    ["topic"],
    registry=WORKER,
)
MESSAGES_OUT = Counter(
    "fillstream_messages_out_total",
    "Records published, by destination topic.",
    ["topic"],
    registry=WORKER,
)
PROCESSING_SECONDS = Histogram(
    "fillstream_processing_seconds",
    "Time to process one input record, by agent.",
    ["agent"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
    registry=WORKER,
)
ORDER_EVENTS = Counter(
    "fillstream_order_events_total",
    "Order events, by status and reason.",
    ["status", "reason"],
    registry=WORKER,
)
FILLS = Counter(
    "fillstream_fills_total",
    "Fills, by liquidity and whether forced.",
    ["liquidity", "liquidation"],
    registry=WORKER,
)
DRAWDOWN_VIOLATIONS = Counter(
    "fillstream_drawdown_violations_total",
    "Accounts halted for breaching their drawdown limit.",
    registry=WORKER,
)
EVALUATIONS = Counter(
    "fillstream_evaluations_total",
    "Evaluation programs' decisions: passed, failed, locked, unlocked, by rule.",
    ["outcome", "rule"],
    registry=WORKER,
)
DEAD_LETTERS = Counter(
    "fillstream_dead_letters_total",
    "Records sent to the dead letters, by source topic.",
    ["topic"],
    registry=WORKER,
)
CLOCK_SKEW_REPLACED = Counter(
    "fillstream_clock_skew_replaced_total",
    "Inputs whose own ts was too far from their Kafka record's time, by topic.",
    ["topic"],
    registry=WORKER,
)
TICKS_APPLIED = Counter(
    "fillstream_ticks_applied_total",
    "Ticks the execution agent applied (once per partition).",
    registry=WORKER,
)
TICK_VISITS = Counter(
    "fillstream_tick_visits_total",
    "Accounts those ticks acted on: the level index's visits (each marked, its levels renewed).",
    registry=WORKER,
)
LAST_TICK = Gauge(
    "fillstream_last_tick_timestamp_seconds",
    "When the router last read a valid tick of the symbol (Unix time).",
    ["symbol"],
    registry=WORKER,
)
CONSUMER_LAG = Gauge(
    "fillstream_consumer_lag_records",
    "Records behind the end of each assigned partition.",
    ["topic", "partition"],
    registry=WORKER,
)
TABLE_KEYS = Gauge(
    "fillstream_table_keys",
    "Keys held locally per table (active and standby partitions).",
    ["table"],
    registry=WORKER,
)
WORKER_READY = Gauge(
    "fillstream_worker_ready",
    "1 while /ready would answer 200 (Kafka answers, tables recovered).",
    registry=WORKER,
)
HTTP_SECONDS = Histogram(
    "fillstream_http_request_seconds",
    "HTTP request latency, by route and status.",
    ["route", "status"],
    registry=WORKER,
)

# The sink's.
SINK_ROWS = Counter(
    "fillstream_sink_rows_total", "Rows the sink inserted, by table.", ["table"], registry=SINK
)
SINK_BATCHES = Counter(
    "fillstream_sink_batches_total", "Batches inserted, by table.", ["table"], registry=SINK
)
SINK_ERRORS = Counter("fillstream_sink_errors_total", "Failed ClickHouse inserts.", registry=SINK)
SINK_REFUSED = Counter(
    "fillstream_sink_refused_rows_total",
    "Records the sink could not turn into a row (logged with their offset), by table.",
    ["table"],
    registry=SINK,
)
SINK_LAG = Gauge(
    "fillstream_sink_lag_records",
    "Records not yet in ClickHouse, per partition.",
    ["topic", "partition"],
    registry=SINK,
)
SINK_READY = Gauge(
    "fillstream_sink_ready",
    "1 while the sink's last insert succeeded (its /ready answers 200).",
    registry=SINK,
)
