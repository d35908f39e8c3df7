"""Versioned DDL, applied at start-up: each version once, recorded in ``schema_migrations``.

Money is Decimal(76, 18) (version 3 widened it from Decimal(38, 18), whose 20 integer digits a
position's value can pass), time DateTime64(3, 'UTC'). The tables are ReplacingMergeTree on a key
that identifies an event, a second safety net behind the insert deduplication tokens: a duplicate
that slipped through disappears on merge or under FINAL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from fillstream.sink.rows import FLAG, MONEY, TIME, Column, TableSpec

DEDUPLICATION = "non_replicated_deduplication_window = 100000"
KAFKA_COLUMNS = """
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)"""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MONEY_COLUMNS = {
    "trades": (
        "quantity", "price", "fee", "notional", "position_quantity", "position_avg_price",
        "cash_after", "equity_after", "realized_pnl",
    ),
    "risk_events": ("max_drawdown_pct", "drawdown_pct", "equity", "peak_equity"),
}  # fmt: skip


def _widen_money() -> tuple[str, ...]:
    def typed(table: str) -> str:
        return "Nullable(Decimal(76, 18))" if table == "risk_events" else "Decimal(76, 18)"

    return tuple(
        f"ALTER TABLE {table} "
        + ", ".join(f"MODIFY COLUMN {column} {typed(table)}" for column in columns)
        for table, columns in MONEY_COLUMNS.items()
    )


MIGRATIONS = (
    Migration(
        1,
        "trades, orders and risk_events",
        (
            f"""CREATE TABLE IF NOT EXISTS trades (
    fill_id String,
    order_id String,
    account_id String,
    symbol LowCardinality(String),
    side LowCardinality(String),
    outcome LowCardinality(String),
    quantity Decimal(38, 18),
    price Decimal(38, 18),
    fee Decimal(38, 18),
    notional Decimal(38, 18),
    liquidity LowCardinality(String),
    liquidation Bool,
    ts DateTime64(3, 'UTC'),
    position_quantity Decimal(38, 18),
    position_avg_price Decimal(38, 18),
    cash_after Decimal(38, 18),
    equity_after Decimal(38, 18),
    realized_pnl Decimal(38, 18),{KAFKA_COLUMNS}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (account_id, ts, fill_id)
SETTINGS {DEDUPLICATION}""",
            f"""CREATE TABLE IF NOT EXISTS orders (
    order_id String,
    account_id String,
    status LowCardinality(String),
    reason LowCardinality(String),
    detail String,
    ts DateTime64(3, 'UTC'),{KAFKA_COLUMNS}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (account_id, order_id, status, kafka_partition, kafka_offset)
SETTINGS {DEDUPLICATION}""",
            f"""CREATE TABLE IF NOT EXISTS risk_events (
    type LowCardinality(String),
    account_id String,
    status LowCardinality(String),
    reason LowCardinality(String),
    max_drawdown_pct Nullable(Decimal(38, 18)),
    drawdown_pct Nullable(Decimal(38, 18)),
    equity Nullable(Decimal(38, 18)),
    peak_equity Nullable(Decimal(38, 18)),
    ts DateTime64(3, 'UTC'),{KAFKA_COLUMNS}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (account_id, ts, type, kafka_partition, kafka_offset)
SETTINGS {DEDUPLICATION}""",
        ),
    ),
    Migration(
        2,
        "analyst views",
        (
            """CREATE VIEW IF NOT EXISTS account_daily_pnl AS
SELECT account_id, toDate(ts) AS day, count() AS fills, sum(realized_pnl) AS realized,
       sum(fee) AS fees, realized - fees AS net
FROM trades FINAL
GROUP BY account_id, day""",
            """CREATE VIEW IF NOT EXISTS symbol_hourly_volume AS
SELECT symbol, toStartOfHour(ts) AS hour, count() AS fills, sum(quantity) AS volume,
       sum(notional) AS turnover
FROM trades FINAL
GROUP BY symbol, hour""",
            """CREATE VIEW IF NOT EXISTS rejections_by_reason AS
SELECT reason, count() AS orders, uniqExact(account_id) AS accounts
FROM orders FINAL
WHERE status = 'rejected'
GROUP BY reason""",
            """CREATE VIEW IF NOT EXISTS account_equity AS
SELECT account_id, argMax(equity_after, (ts, kafka_partition, kafka_offset)) AS equity,
       max(ts) AS as_of, count() AS fills, sum(realized_pnl) AS realized, sum(fee) AS fees
FROM trades FINAL
GROUP BY account_id""",
        ),
    ),
    Migration(3, "money columns Decimal(76, 18)", _widen_money()),
    Migration(
        4,
        "orders: filled, open and average price; order_outcomes",
        (
            "ALTER TABLE orders "
            "ADD COLUMN IF NOT EXISTS filled_quantity Nullable(Decimal(76, 18)) AFTER ts, "
            "ADD COLUMN IF NOT EXISTS leaves_quantity Nullable(Decimal(76, 18)) "
            "AFTER filled_quantity, "
            "ADD COLUMN IF NOT EXISTS avg_price Nullable(Decimal(76, 18)) AFTER leaves_quantity",
            """CREATE VIEW IF NOT EXISTS order_outcomes AS
SELECT account_id, order_id, status, reason, detail, filled_quantity, avg_price, ts AS ended_at
FROM orders FINAL
WHERE status IN ('filled', 'cancelled', 'expired', 'rejected')""",
        ),
    ),
    Migration(
        5,
        "risk_events: operators' controls",
        (
            "ALTER TABLE risk_events "
            "ADD COLUMN IF NOT EXISTS action LowCardinality(String) DEFAULT '' AFTER reason, "
            "ADD COLUMN IF NOT EXISTS result LowCardinality(String) DEFAULT '' AFTER action, "
            "ADD COLUMN IF NOT EXISTS operator String DEFAULT '' AFTER result, "
            "ADD COLUMN IF NOT EXISTS detail String DEFAULT '' AFTER operator",
        ),
    ),
    Migration(
        6,
        "risk_events: evaluation programs' decisions; evaluation_status",
        (
            "ALTER TABLE risk_events "
            "ADD COLUMN IF NOT EXISTS program_id String DEFAULT '' AFTER detail, "
            "ADD COLUMN IF NOT EXISTS outcome LowCardinality(String) DEFAULT '' AFTER program_id, "
            "ADD COLUMN IF NOT EXISTS rule LowCardinality(String) DEFAULT '' AFTER outcome, "
            "ADD COLUMN IF NOT EXISTS threshold Nullable(Decimal(76, 18)) AFTER rule, "
            "ADD COLUMN IF NOT EXISTS measured Nullable(Decimal(76, 18)) AFTER threshold",
            # The latest decision of each account's program (unlocked after locked is active).
            """CREATE VIEW IF NOT EXISTS evaluation_status AS
SELECT account_id, program_id,
       argMax(outcome, (ts, kafka_partition, kafka_offset)) AS last_outcome,
       argMax(rule, (ts, kafka_partition, kafka_offset)) AS last_rule,
       max(ts) AS decided_at,
       countIf(outcome IN ('failed', 'locked')) AS breaches
FROM risk_events FINAL
WHERE type = 'evaluation'
GROUP BY account_id, program_id""",
        ),
    ),
    Migration(
        7,
        "risk_events: program days; program_days; evaluation_status without them",
        (
            "ALTER TABLE risk_events ADD COLUMN IF NOT EXISTS day String DEFAULT '' AFTER measured",
            """CREATE VIEW IF NOT EXISTS program_days AS
SELECT account_id, program_id, day, threshold AS start_equity, measured AS end_equity,
       measured - threshold AS pnl
FROM risk_events FINAL
WHERE type = 'evaluation' AND outcome = 'day_closed'""",
            # Program days are not decisions.
            """CREATE OR REPLACE VIEW evaluation_status AS
SELECT account_id, program_id,
       argMax(outcome, (ts, kafka_partition, kafka_offset)) AS last_outcome,
       argMax(rule, (ts, kafka_partition, kafka_offset)) AS last_rule,
       max(ts) AS decided_at,
       countIf(outcome IN ('failed', 'locked')) AS breaches
FROM risk_events FINAL
WHERE type = 'evaluation' AND outcome != 'day_closed'
GROUP BY account_id, program_id""",
        ),
    ),
)


def check_columns(client: Client, specs: Iterable[TableSpec]) -> None:
    """Stop with what differs if the tables the migrations made do not hold the columns the
    contract's models give (`rows.columns_of`): a field added to a message needs a migration."""
    problems = []
    for spec in specs:
        result = client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            "AND table = {table:String}",
            parameters={"table": spec.table},
        )
        stored: dict[str, str] = {name: type_ for name, type_ in result.result_rows}
        for column in spec.columns:
            expected = _clickhouse_types(column)
            if stored.get(column.name, "") not in expected:
                problems.append(
                    f"{spec.table}.{column.name} is {stored.get(column.name) or 'missing'}, "
                    f"the contract needs {' or '.join(sorted(expected))}"
                )
    if problems:
        raise RuntimeError("ClickHouse tables differ from the contract: " + "; ".join(problems))


def _clickhouse_types(column: Column) -> set[str]:
    if column.type == MONEY:
        return {"Nullable(Decimal(76, 18))" if column.nullable else "Decimal(76, 18)"}
    if column.type == TIME:
        return {"DateTime64(3, 'UTC')"}
    if column.type == FLAG:
        return {"Bool"}
    return {"String", "LowCardinality(String)"}


def migrate(client: Client) -> list[int]:
    """Apply the versions not yet recorded; return those applied now."""
    client.command(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    description String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = MergeTree ORDER BY version"""
    )
    applied = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    done = []
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.description]],
            column_names=["version", "description"],
        )
        done.append(migration.version)
    return done
