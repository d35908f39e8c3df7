"""`fillstream demo`: a broker, a worker and the sink; simulated market and traders; a live view;
a summary checked against the worker's state; a clean stop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from fillstream.auth import hash_key
from fillstream.broker import local
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.core.events import TERMINAL
from fillstream.settings import Settings
from fillstream.simulate.market import MarketModel
from fillstream.simulate.publish import upstream_producer
from fillstream.simulate.traders import TraderModel
from fillstream.sink.http import ask

OUTPUTS = ("fills", "order_events", "risk_events", "dead_letters")
TICKS_PER_SECOND = 500
ORDERS_PER_SECOND = 100
SEED = 42
ANALYST_QUERY = """SELECT account_id, fills, realized - fees AS net_realized, equity
FROM account_equity ORDER BY equity DESC LIMIT 5"""
PROGRAMS: tuple[dict[str, Any], ...] = (
    # FTMO-like: a static maximum loss and a daily loss from the larger of balance and equity,
    # reset at midnight in Prague. Amounts are scaled down so that a minute shows outcomes.
    {"program_id": "ftmo-like", "time_zone": "Europe/Prague", "daily_loss": {"pct": "0.15"},
     "daily_loss_from": "higher", "max_loss": {"pct": "0.5"}, "profit_target": {"pct": "0.02"},
     "min_trading_days": 1},
    # A trailing end-of-day drawdown that stops at the start, and a daily loss that locks the
    # account until the 17:00 New York reset.
    {"program_id": "eod-ny", "time_zone": "America/New_York", "day_starts_at": "17:00",
     "max_loss": {"pct": "0.8"}, "max_loss_trailing": "end_of_day",
     "max_loss_stops_at_start": True, "daily_loss": {"pct": "0.2"}, "daily_loss_locks": True,
     "profit_target": {"pct": "0.02"}, "max_orders_per_second": 10},
)  # fmt: skip
"""The two evaluation programs the demo's sound traders run, alternately."""
BANK_EVERY_SECONDS = 1.0


def run_demo(settings: Settings, seconds: float) -> int:
    """Uses the configured Kafka, else the local broker (started and stopped here if not up)."""
    started_broker = False
    if not settings.kafka_bootstrap and local.read_state(settings.kafka_dir) is None:
        print("starting the local Kafka broker ...")
        local.start(settings.kafka_dir, settings.kafka_port, settings.kafka_heap)
        started_broker = True
    kafka = Kafka.from_settings(settings)
    print(f"Kafka at {kafka.bootstrap}")
    # Fresh topics have no leader for a moment; the clients retry, and the demo keeps quiet.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(_demo(settings, kafka, seconds))
    finally:
        if started_broker:
            local.stop(settings.kafka_dir)
            print("local Kafka stopped")


@dataclass
class Tally:
    """What came back on the output topics."""

    counts: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    statuses: dict[str, list[str]] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    last_fill: dict[str, dict] = field(default_factory=dict)
    positions: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def add(self, name: str, value: dict) -> None:
        self.counts[name] += 1
        if name == "order_events":
            self.statuses.setdefault(value["order_id"], []).append(value["status"])
            if value["status"] == "rejected":
                self.rejections[value["reason"]] += 1
        elif name == "fills":
            self.last_fill[value["account_id"]] = value
            key = value["symbol"] + (f":{value['outcome']}" if "outcome" in value else "")
            self.positions.setdefault(value["account_id"], {})[key] = Decimal(
                value["position_quantity"]
            )
        elif name == "risk_events" and value["type"] == "drawdown_violation":
            self.violations.append(value)
        elif name == "risk_events" and value["type"] == "evaluation":
            self.evaluations.append(value)
        elif name == "risk_events" and value.get("reason") == "opened":
            self.counts["opened"] += 1


async def _demo(base: Settings, kafka: Kafka, seconds: float) -> int:
    run_id = datetime.now(UTC).strftime("demo-%Y%m%d%H%M%S")
    settings = base.model_copy(update={"topic_prefix": f"{run_id}.", "app_id": run_id})
    await ensure_topics(
        kafka,
        pipeline_topics(settings),
        settings.topic_partitions,
        settings.topic_replication_factor,
        settings.topic_min_insync_replicas,
    )
    web_port, sink_port = local.free_port(), local.free_port()
    admin_key = secrets.token_urlsafe(24)
    shared = {
        "FILLSTREAM_WEB_PORT": str(web_port),
        "FILLSTREAM_SINK_PORT": str(sink_port),
        "FILLSTREAM_SINK_URL": f"http://127.0.0.1:{sink_port}",
        "FILLSTREAM_API_KEYS": json.dumps({hash_key(admin_key): "admin"}),
        "FILLSTREAM_SINK_API_KEY": admin_key,
    }
    worker = _start("worker", settings, kafka, run_id, shared)
    sink = _start("sink", settings, kafka, run_id, shared)
    print(
        f"worker (pid {worker.pid}) and ClickHouse sink (pid {sink.pid}) started; "
        f"topics prefixed {settings.topic_prefix!r}"
    )
    try:
        session = Session(settings, kafka, worker, web_port, admin_key)
        tally = await session.run(seconds)
        _print_summary(tally, session)
        await _print_analytics(sink_port, admin_key, tally.counts["fills"], sink)
    finally:
        for name, process in (("worker", worker), ("sink", sink)):
            _stop(process)
            print(f"{name} stopped")
    return 0 if tally.counts["fills"] > 0 else 1


class Session:
    """Simulated market and traders publishing while the outputs are tallied and shown."""

    def __init__(
        self,
        settings: Settings,
        kafka: Kafka,
        worker: subprocess.Popen,
        web_port: int,
        admin_key: str,
    ) -> None:
        self.admin_key = admin_key
        self.settings = settings
        self.kafka = kafka
        self.worker = worker
        self.web_port = web_port
        self.market = MarketModel(3, 2, SEED, TICKS_PER_SECOND, datetime.now(UTC), quotes=True)
        self.instruments = {i["symbol"]: i for i in self.market.instruments()}
        self.traders = TraderModel(48, SEED, bad_share=0.03, reckless_share=0.25, manage_share=0.1)
        sound = [a for a in self.traders.accounts if "max_drawdown_pct" not in a]
        for n, account in enumerate(sound):
            account["program_id"] = PROGRAMS[n % len(PROGRAMS)]["program_id"]
            if n % 4 < 2:
                self.traders.patient.add(account["account_id"])
        self.prices: dict[str, str] = {}
        self.sent: Counter = Counter()
        self.tally = Tally()
        self.resting_at_end = 0
        self._lag = 0
        self._banked = 0.0
        self._closing = 0

    async def run(self, seconds: float) -> Tally:
        producer = upstream_producer(self.kafka)
        consumer = self.kafka.consumer(
            *(self.settings.topic(name) for name in OUTPUTS),
            auto_offset_reset="earliest",
            group_id=None,
        )
        self._admin = self.kafka.admin()
        await producer.start()
        await consumer.start()
        await self._admin.start()
        try:
            await self._open_accounts(producer, consumer)
            await self._trade(producer, consumer, seconds)
            await producer.flush()
            await self._settle(consumer)
            self.resting_at_end = self._resting_orders()
            if self._lag:
                print(f"  the worker is still {self._lag} records behind: figures are partial")
        finally:
            await self._admin.close()
            await producer.stop()
            await consumer.stop()
        return self.tally

    async def _send(self, producer, name: str, key: str, value: bytes) -> None:
        await producer.send(self.settings.topic(name), key=key.encode(), value=value)
        self.sent[name] += 1

    async def _collect(self, consumer) -> None:
        names = {self.settings.topic(name): name for name in OUTPUTS}
        for records in (await consumer.getmany(timeout_ms=50)).values():
            for record in records:
                self.tally.add(names[record.topic], json.loads(record.value))

    def _check_worker(self) -> None:
        if self.worker.poll() is not None:
            raise RuntimeError("the worker exited; see var/demo-worker.log")

    async def _open_accounts(self, producer, consumer) -> None:
        for symbol, instrument in self.instruments.items():
            await self._send(producer, "instruments", symbol, json.dumps(instrument).encode())
        for program in PROGRAMS:
            await self._send(producer, "programs", program["program_id"],
                             json.dumps(program).encode())  # fmt: skip
        for key, value in self.traders.account_messages():
            await self._send(producer, "accounts", key, value)
        await producer.flush()
        while self.tally.counts["opened"] < len(self.traders.accounts):
            self._check_worker()
            await self._collect(consumer)

    async def _trade(self, producer, consumer, seconds: float) -> None:
        ticks = self.market.ticks()
        start = time.monotonic()
        next_lag_check = start
        view = _LiveView(self)
        with view:
            while (elapsed := time.monotonic() - start) < seconds:
                self._check_worker()
                while self.sent["ticks"] < elapsed * TICKS_PER_SECOND:
                    symbol, value = next(ticks)
                    self.prices[symbol] = json.loads(value)["price"]
                    await self._send(producer, "ticks", symbol, value)
                while self.sent["orders"] < elapsed * ORDERS_PER_SECOND:
                    key, value = self.traders.order(self.instruments, self.prices)
                    await self._send(producer, "orders", key, value)
                if elapsed >= self._banked + BANK_EVERY_SECONDS:
                    self._banked = elapsed
                    await self._bank_profits(producer)
                await self._collect(consumer)
                if time.monotonic() >= next_lag_check:
                    next_lag_check += 2
                    await self._worker_lag(consumer)
                view.refresh(elapsed)
                await asyncio.sleep(0.02)

    async def _bank_profits(self, producer) -> None:
        """Traders in a program who are ahead of its target close their positions (a pass is
        judged flat), as a trader banking a challenge would."""
        targets = {p["program_id"]: Decimal(p["profit_target"]["pct"]) for p in PROGRAMS}
        for account in self.traders.accounts:
            program_id = account.get("program_id")
            positions = self.tally.positions.get(account["account_id"], {})
            if program_id is None or not any(positions.values()):
                continue
            start = Decimal(account["starting_balance"])
            held = sum(
                abs(q) * Decimal(self.prices[key.partition(":")[0]]) for key, q in positions.items()
            )
            # Ahead of the target by twice what closing costs (fees, slippage: under 0.15 %).
            ahead = _equity(self.tally, account, self.prices) - start
            if ahead < start * targets[program_id] / 100 + held * Decimal("0.002"):
                continue
            for key, quantity in positions.items():
                if not quantity:
                    continue
                symbol, _, outcome = key.partition(":")
                self._closing += 1
                order = {"order_id": f"{account['account_id']}-bank-{self._closing}",
                         "account_id": account["account_id"], "symbol": symbol,
                         "side": "sell" if quantity > 0 else "buy", "type": "market",
                         "quantity": str(abs(quantity)),
                         **({"outcome": outcome} if outcome else {})}  # fmt: skip
                await self._send(producer, "orders", account["account_id"],
                                 json.dumps(order).encode())  # fmt: skip

    async def _settle(self, consumer) -> None:
        """Read until every sound order has an event and the worker has caught up."""
        deadline = time.monotonic() + 30
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            before = sum(self.tally.counts.values())
            await self._collect(consumer)
            if sum(self.tally.counts.values()) != before:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 2 and await self._worker_lag(consumer) == 0:
                return

    async def _worker_lag(self, consumer: AIOKafkaConsumer) -> int:
        """Records of the worker's inputs not yet processed (committed) by its consumer group."""
        committed = await self._admin.list_consumer_group_offsets(self.settings.app_id)
        inputs = {self.settings.topic(n) for n in ("orders", "ticks", "market_data")}
        tps = [tp for tp in committed if tp.topic in inputs]
        ends = await consumer.end_offsets(tps) if tps else {}
        self._lag = sum(max(ends[tp] - committed[tp].offset, 0) for tp in tps)
        return self._lag

    def _resting_orders(self) -> int:
        """Resting orders as the worker's state holds them, account by account."""
        total = 0
        for account in self.traders.accounts:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.web_port}/accounts/{account['account_id']}",
                headers={"Authorization": f"Bearer {self.admin_key}"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                total += len(json.loads(response.read())["resting_orders"])
        return total


class _LiveView:
    """A rich table redrawn in a terminal; a plain line every five seconds elsewhere."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.console = Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self._last_line = 0.0
        self._last_events = (0, time.monotonic())
        self._rate = 0.0

    def __enter__(self) -> _LiveView:
        if self.console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.console.is_terminal:
            self.live.__exit__(*exc)

    def refresh(self, elapsed: float) -> None:
        s = self.session
        events = sum(s.tally.counts.values())
        then_events, then = self._last_events
        if time.monotonic() - then >= 1:
            self._rate = (events - then_events) / (time.monotonic() - then)
            self._last_events = (events, time.monotonic())
        rows = [
            ("elapsed", f"{elapsed:5.1f} s"),
            ("ticks sent", f"{s.sent['ticks']:,}"),
            ("orders sent", f"{s.sent['orders']:,}"),
            ("fills", f"{s.tally.counts['fills']:,}"),
            ("order events", f"{s.tally.counts['order_events']:,}"),
            ("rejections", ", ".join(f"{r} {n}" for r, n in s.tally.rejections.most_common())),
            ("drawdown violations", str(len(s.tally.violations))),
            ("dead letters", str(s.tally.counts["dead_letters"])),
            ("output events/s", f"{self._rate:,.0f}"),
            ("worker lag (uncommitted)", str(s._lag)),
        ]
        if self.console.is_terminal:
            table = Table(title="fillstream demo", show_header=False)
            for label, value in rows:
                table.add_row(label, value)
            self.live.update(table)
        elif elapsed - self._last_line >= 5:
            self._last_line = elapsed
            print(
                "  "
                + "  ".join(f"{label} {value}" for label, value in rows[:5] + rows[7:8] + rows[9:])
            )


def _equity(tally: Tally, account: dict, prices: dict[str, str]) -> Decimal:
    """Cash after the last fill plus every position at the last published price."""
    last = tally.last_fill.get(account["account_id"])
    equity = Decimal(last["cash_after"]) if last else Decimal(account["starting_balance"])
    for key, quantity in tally.positions.get(account["account_id"], {}).items():
        symbol, _, outcome = key.partition(":")
        price = Decimal(prices[symbol])
        equity += quantity * (1 - price if outcome == "no" else price)
    return equity


def _print_summary(tally: Tally, session: Session) -> None:
    ended = sum(1 for s in tally.statuses.values() if set(s) & TERMINAL)
    print("\nsummary")
    print(f"  ticks sent: {session.sent['ticks']}, orders sent: {session.sent['orders']}")
    print(f"  fills: {tally.counts['fills']}")
    print(f"  orders ended: {ended}, resting at the end: {session.resting_at_end}")
    lifecycle = Counter(status for statuses in tally.statuses.values() for status in statuses)
    refused = lifecycle["cancel_rejected"] + lifecycle["replace_rejected"]
    print(f"  partially filled: {lifecycle['partially_filled']}, "
          f"cancelled: {lifecycle['cancelled']}, replaced: {lifecycle['replaced']}, "
          f"expired: {lifecycle['expired']}, triggered: {lifecycle['triggered']}, "
          f"cancels and replaces refused: {refused}")  # fmt: skip
    print(f"  dead letters: {tally.counts['dead_letters']}")
    print("  rejections by reason: " + (", ".join(
        f"{reason} {n}" for reason, n in tally.rejections.most_common()) or "none"))  # fmt: skip
    for violation in tally.violations:
        print(f"  drawdown violation: {violation['account_id']} at equity {violation['equity']} "
              f"({Decimal(violation['drawdown_pct']):.2f} % below peak "
              f"{Decimal(violation['peak_equity']):.2f})")  # fmt: skip
    for program in PROGRAMS:
        program_id = program["program_id"]
        accounts = [a for a in session.traders.accounts if a.get("program_id") == program_id]
        decided = [e for e in tally.evaluations if e["program_id"] == program_id]
        outcomes = Counter(e["outcome"] for e in decided)
        rules = Counter(e["rule"] for e in decided if e["outcome"] in ("failed", "locked"))
        print(f"  program {program_id}: {len(accounts)} accounts, passed: {outcomes['passed']}, "
              f"failed: {outcomes['failed']}, locked: {outcomes['locked']}"
              + (" (" + ", ".join(f"{r} {n}" for r, n in rules.most_common()) + ")"
                 if rules else ""))  # fmt: skip
    ranked = sorted(
        ((_equity(tally, a, session.prices), a["account_id"]) for a in session.traders.accounts),
        reverse=True,
    )
    print("  best accounts by equity:  " + ", ".join(f"{a} {e:.2f}" for e, a in ranked[:3]))
    print("  worst accounts by equity: " + ", ".join(f"{a} {e:.2f}" for e, a in ranked[-3:]))


def _start(
    role: str, settings: Settings, kafka: Kafka, run_id: str, shared: dict[str, str]
) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        shared,
        FILLSTREAM_KAFKA_BOOTSTRAP=kafka.bootstrap,
        FILLSTREAM_APP_ID=run_id,
        FILLSTREAM_TOPIC_PREFIX=settings.topic_prefix,
        FILLSTREAM_DATA_DIR=str(settings.root / "demo" / run_id),
    )
    log = (settings.root / f"demo-{role}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "fillstream.cli", role],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _sql(port: int, key: str, query: str) -> dict | None:
    try:
        return ask(f"http://127.0.0.1:{port}", query, key, timeout=10)
    except OSError:
        return None


async def _print_analytics(port: int, key: str, fills: int, sink: subprocess.Popen) -> None:
    """Wait until the sink holds every fill seen, then ask ClickHouse what analysts would."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sink.poll() is None:
        answer = _sql(port, key, "SELECT count() FROM trades")
        if answer and answer["rows"][0][0] >= fills:
            break
        await asyncio.sleep(0.5)
    answer = _sql(port, key, ANALYST_QUERY)
    if answer is None:
        print("\nClickHouse: the sink did not answer; see var/demo-sink.log")
        return
    print(f"\nClickHouse (through the sink), {ANALYST_QUERY.replace(chr(10), ' ')}:")
    print("    " + "  ".join(f"{column:>15s}" for column in answer["columns"]))
    for row in answer["rows"]:
        print("    " + "  ".join(f"{_short(value):>15s}" for value in row))


def _short(value: object) -> str:
    """Money to cents for the eye; ClickHouse holds 18 places."""
    if isinstance(value, str) and "." in value:
        try:
            return f"{Decimal(value):.2f}"
        except ArithmeticError:
            return value
    return str(value)
