"""Chaos for the pipeline, after Kafka Streams' exactly-once system test: workers killed with
kill -9 at random moments (half of the time with their disk wiped) while orders and ticks flow,
then a verifier that reads every output topic from the beginning.

Used by the short test in tests/integration/test_chaos.py and the long run in bench/chaos.py.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import random
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from fillstream.auth import hash_key
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from tests.support import ADMIN_KEY, Downstream, Upstream, WorkerProcess, worker_env

STARTING_BALANCE = Decimal(100_000)
OPENING = {"accepted", "rejected"}
TERMINAL = {"rejected", "filled", "cancelled", "expired"}


WORKER = [sys.executable, "-m", "fillstream.cli", "worker"]


def crashing_worker(seed: int) -> list[str]:
    """A worker that kills itself at a random phase of a random checkpoint."""
    return [sys.executable, "-m", "tests.apps.crashing_worker", str(seed)]


class Cluster:
    """Workers of one app, each in its own process with its own disk."""

    def __init__(
        self,
        bootstrap: str,
        app_id: str,
        root: Path,
        workers: int,
        command: list[str] = WORKER,
        **extra: str,
    ):
        self.root = root
        admin = json.dumps({hash_key(ADMIN_KEY): "admin"})
        self.workers: list[WorkerProcess] = []
        self.data_dirs: list[Path] = []
        for n in range(workers):
            data_dir = root / f"worker-{n}"
            env = worker_env(bootstrap, data_dir, app_id, f"{app_id}.", api_keys=admin, **extra)
            self.workers.append(WorkerProcess(command, env, root / f"worker-{n}.log"))
            self.data_dirs.append(data_dir)
        self.kills: list[dict] = []

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def kill(self, n: int, wipe: bool) -> None:
        """kill -9, and with ``wipe`` the worker's disk too: it restores from the changelogs."""
        self.workers[n].kill()
        self._down(n, wipe, "kill -9")

    def _down(self, n: int, wipe: bool, how: str) -> None:
        if wipe:
            shutil.rmtree(self.data_dirs[n] / "faust", ignore_errors=True)
        self.kills.append({"worker": n, "how": how, "wiped": wipe, "at": time.time()})

    async def supervise(self, rng: random.Random) -> None:
        """Restart every worker that died (crashing workers kill themselves), half of the time
        on a wiped disk, after a pause."""
        while True:
            for n, worker in enumerate(self.workers):
                if worker.exited:
                    self._down(n, rng.random() < 0.5, "crashed")
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    worker.start()
            await asyncio.sleep(0.2)

    def replace(self, command: list[str]) -> None:
        """Every worker killed and started again running ``command``, on the same disks."""
        for worker in self.workers:
            worker.kill()
            worker.command = command
            worker.start()

    def log_tails(self) -> str:
        return "\n\n".join(worker.log_tail(30) for worker in self.workers)


CHALLENGE = {
    "program_id": "challenge", "daily_loss": {"pct": "0.05"}, "daily_loss_locks": True,
    "max_loss": {"pct": "0.1"}, "max_loss_trailing": "intraday", "profit_target": {"pct": "0.01"},
    "max_orders_per_minute": 60,
}  # fmt: skip
"""The evaluation program a quarter of the load's accounts run."""


@dataclass
class Load:
    """Orders and ticks at a steady pace, from a seed; remembers every order it sent."""

    settings: Settings
    accounts: list[str]
    seed: int = 1
    orders_per_second: float = 40.0
    ticks_per_second: float = 20.0
    sent_orders: dict[str, str] = field(default_factory=dict)
    """order_id -> account_id."""
    commands: int = 0
    """Cancels and replaces sent (of the limit and stop orders above)."""

    async def open(self, upstream: Upstream, bootstrap: str, timeout: float = 120) -> None:
        """The instrument, the accounts and a first tick; back once every account is open.
        The topics are made first, as the contract has them: a broker that creates a topic on
        its first write would make compacted ones plain, and the workers refuse those."""
        await ensure_topics(Kafka(bootstrap), pipeline_topics(self.settings), 4)
        async with Downstream(bootstrap, self.settings.topic("risk_events")) as opened:
            await self._setup(upstream)
            await opened.poll_until(
                lambda records: sum(b'"opened"' in r.value for r in records) >= len(self.accounts),
                timeout,
            )

    async def _setup(self, upstream: Upstream) -> None:
        await upstream.send(self.settings.topic("instruments"), "XYZ", {
            "symbol": "XYZ", "kind": "crypto", "taker_fee_bps": "10", "maker_fee_bps": "2",
            "slippage_bps": "5", "tick_size": "0.01"})  # fmt: skip
        await upstream.send(self.settings.topic("programs"), "challenge", CHALLENGE)
        for n, account in enumerate(self.accounts):
            # Every fourth account has a tight drawdown limit: the market walk halts some.
            # Another fourth runs a challenge whose limits the walk reaches.
            limits = {"max_drawdown_pct": "0.5"} if n % 4 == 0 else {}
            if n % 4 == 1:
                limits = {"program_id": "challenge"}
            opening = {"account_id": account, "starting_balance": str(STARTING_BALANCE)}
            await upstream.send(self.settings.topic("accounts"), account, {**opening, **limits})
        await upstream.send(self.settings.topic("ticks"), "XYZ", self._tick(Decimal(100)))

    def _tick(self, price: Decimal, rng: random.Random | None = None) -> dict:
        """A last price; with ``rng``, mostly also a quote around it and sizes, so that orders
        fill in parts."""
        tick: dict[str, str] = {"symbol": "XYZ", "price": str(price), "ts": _wire_time(time.time())}
        if rng is not None and rng.random() < 0.7:
            cent = Decimal("0.01")
            tick.update(
                bid=str(price - rng.randint(1, 5) * cent),
                ask=str(price + rng.randint(1, 5) * cent),
                bid_size=str(rng.randint(1, 15)),
                ask_size=str(rng.randint(1, 15)),
                size=str(rng.randint(1, 15)),
            )
        return tick

    async def run(self, upstream: Upstream, seconds: float) -> None:
        rng = random.Random(self.seed)
        price = Decimal(100)
        started = time.monotonic()
        next_tick = next_order = started
        n = 0
        waiting: list[tuple[str, str]] = []
        while (now := time.monotonic()) - started < seconds:
            if now >= next_tick:
                price = max(Decimal("50"), price + Decimal(rng.randint(-40, 40)) / 100)
                await upstream.send(self.settings.topic("ticks"), "XYZ", self._tick(price, rng))
                next_tick += 1 / self.ticks_per_second
            if now >= next_order:
                message = self._next(rng, n, price, waiting)
                if "action" in message:
                    self.commands += 1
                else:
                    self.sent_orders[message["order_id"]] = message["account_id"]
                    n += 1
                await upstream.send(self.settings.topic("orders"), message["account_id"], message)
                next_order += 1 / self.orders_per_second
            await asyncio.sleep(max(0.0, min(next_tick, next_order) - time.monotonic()))

    def _next(
        self, rng: random.Random, n: int, price: Decimal, waiting: list[tuple[str, str]]
    ) -> dict[str, Any]:
        """Mostly market orders; limits (some GTD, expiring within seconds), stops and trailing
        stops; and cancels and replaces of those, which race their fills and expiries."""
        draw = rng.random()
        if waiting and draw < 0.1:
            account, order_id = waiting.pop(rng.randrange(len(waiting)))
            command: dict[str, Any] = {"action": "cancel", "order_id": order_id,
                                       "account_id": account}  # fmt: skip
            if draw < 0.04:
                command.update(action="replace", quantity=str(rng.randint(1, 20)))
                waiting.append((account, order_id))
            return command
        account = rng.choice(self.accounts)
        side = rng.choice(["buy", "sell"])
        order: dict[str, Any] = {"order_id": f"o{n}", "account_id": account, "symbol": "XYZ",
                                 "side": side, "type": "market",
                                 "quantity": str(rng.randint(1, 20))}  # fmt: skip
        away = Decimal(rng.randint(1, 100)) / 100
        if draw < 0.3:
            order.update(type="limit", limit_price=str(price + rng.choice([-away, away])))
            if rng.random() < 0.3:
                expire_at = time.time() + rng.uniform(1, 10)
                order.update(time_in_force="gtd", expire_at=_wire_time(expire_at))
            waiting.append((account, order["order_id"]))
        elif draw < 0.38:
            # A stop beyond the market in its side's direction, or a trailing one.
            if rng.random() < 0.5:
                trigger = price + away if side == "buy" else price - away
                order.update(type="stop_market", trigger_price=str(trigger))
            else:
                order.update(type="trailing_stop_market", trailing_offset=str(away))
            waiting.append((account, order["order_id"]))
        return order


def _wire_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int(seconds % 1 * 1000):03d}Z"
    )


@dataclass(frozen=True)
class Published:
    partition: int
    timestamp: float
    """When the worker sent it (the record's create time), in seconds."""
    value: dict


async def read_all(
    bootstrap: str, topics: list[str], partitions: int = 4
) -> dict[str, list[Published]]:
    """Every record of the topics from the beginning, read_committed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: dict[str, list[Published]] = defaultdict(list)
        deadline = time.monotonic() + 120
        while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError("could not read the outputs to their end")
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, batch in batches.items():
                records[tp.topic].extend(
                    Published(tp.partition, record.timestamp / 1000, json.loads(record.value))
                    for record in batch
                )
        return records
    finally:
        await consumer.stop()


def failover_seconds(kills: list[dict], order_events: list[Published]) -> list[float]:
    """For each death, how long the partitions stood still: per partition, the gap between the
    last order event before it and the first after (orders reach every partition several times
    a second), the longest of them."""
    by_partition: dict[int, list[float]] = defaultdict(list)
    for event in order_events:
        by_partition[event.partition].append(event.timestamp)
    for times in by_partition.values():
        times.sort()
    stalls = []
    for kill in kills:
        at = kill["at"]
        longest = 0.0
        for times in by_partition.values():
            index = bisect.bisect_right(times, at)
            if 0 < index < len(times):
                longest = max(longest, times[index] - times[index - 1])
        stalls.append(round(longest, 2))
    return stalls


@dataclass
class Verdict:
    orders: int = 0
    fills: int = 0
    repeated: int = 0
    """Outputs published more than once, identical each time (consumers deduplicate on ids)."""
    conflicting: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    chain_breaks: list[str] = field(default_factory=list)
    halted_twice: list[str] = field(default_factory=list)
    decisions: int = 0
    """Distinct decisions of the accounts' evaluation program (days closed included)."""

    @property
    def clean(self) -> bool:
        return not (self.conflicting or self.lost or self.chain_breaks or self.halted_twice)

    def summary(self) -> dict:
        return {
            "orders": self.orders, "fills": self.fills, "repeated": self.repeated,
            "conflicting": len(self.conflicting), "lost": len(self.lost),
            "chain_breaks": len(self.chain_breaks), "halted_twice": len(self.halted_twice),
            "decisions": self.decisions,
            "examples": (self.conflicting + self.lost + self.chain_breaks + self.halted_twice)[:5],
        }  # fmt: skip


OUTPUTS = ("fills", "order_events", "risk_events")


def output_topics(settings: Settings) -> list[str]:
    return [settings.topic(name) for name in OUTPUTS]


def verify(
    settings: Settings, sent_orders: dict[str, str], records: dict[str, list[Published]]
) -> Verdict:
    """Every order opened once (and ended at most once, saying what its fills add up to), no
    fill_id with two contents, every
    account's fills numbered without a gap with each cash_after following from the one before,
    no account halted twice."""
    fills, order_events, risk_events = (
        [record.value for record in records[topic]] for topic in output_topics(settings)
    )
    verdict = Verdict(orders=len(sent_orders))
    by_fill: dict[str, list[dict]] = defaultdict(list)
    for fill in fills:
        by_fill[fill["fill_id"]].append(fill)
    for fill_id, copies in by_fill.items():
        verdict.repeated += len(copies) - 1
        if any(copy != copies[0] for copy in copies):
            verdict.conflicting.append(f"fill {fill_id}: {len(copies)} copies differ")
    verdict.fills = len(by_fill)

    opening: dict[str, list[dict]] = defaultdict(list)
    terminal: dict[str, list[dict]] = defaultdict(list)
    for event in order_events:
        if event.get("reason") == "DUPLICATE_ORDER_ID":
            verdict.conflicting.append(f"order {event['order_id']} rejected as its own duplicate")
        if event["status"] in OPENING:
            opening[event["order_id"]].append(event)
        if event["status"] in TERMINAL:
            terminal[event["order_id"]].append(event)
    for order_id in sent_orders:
        if not opening.get(order_id):
            verdict.lost.append(f"order {order_id}: no accepted or rejected event")
    for kind, events in (("opening", opening), ("terminal", terminal)):
        for order_id, copies in events.items():
            verdict.repeated += len(copies) - 1
            if any(copy != copies[0] for copy in copies):
                verdict.conflicting.append(f"order {order_id}: {kind} events differ")

    filled: dict[str, Decimal] = defaultdict(Decimal)
    for copies in by_fill.values():
        filled[copies[0]["order_id"]] += Decimal(copies[0]["quantity"])
    for order_id, copies in terminal.items():
        said = copies[0].get("filled_quantity")
        if said is not None and Decimal(said) != filled[order_id]:
            verdict.conflicting.append(
                f"order {order_id}: ends with {said} filled, its fills add up to {filled[order_id]}"
            )

    by_account: dict[str, dict[int, dict]] = defaultdict(dict)
    for fill_id, copies in by_fill.items():
        account, _, number = fill_id.rpartition("#")
        by_account[account][int(number)] = copies[0]
    for account, numbered in by_account.items():
        cash = STARTING_BALANCE
        for number in range(1, max(numbered) + 1):
            fill = numbered.get(number)
            if fill is None:
                verdict.chain_breaks.append(f"{account}: fill #{number} missing")
                break
            notional = Decimal(fill["quantity"]) * Decimal(fill["price"])
            cash += (-notional if fill["side"] == "buy" else notional) - Decimal(fill["fee"])
            if Decimal(fill["cash_after"]) != cash:
                verdict.chain_breaks.append(
                    f"{account}#{number}: cash_after {fill['cash_after']}, expected {cash}"
                )
                break

    violations: dict[str, set[str]] = defaultdict(set)
    for event in risk_events:
        if event["type"] == "drawdown_violation":
            violations[event["account_id"]].add(json.dumps(event, sort_keys=True))
    verdict.halted_twice = [
        f"{a}: {len(v)} violations" for a, v in violations.items() if len(v) > 1
    ]
    # A program passes or fails an account once (copies identical).
    final: dict[str, set[str]] = defaultdict(set)
    verdict.decisions = len(
        {json.dumps(e, sort_keys=True) for e in risk_events if e["type"] == "evaluation"}
    )
    for event in risk_events:
        if event["type"] == "evaluation" and event["outcome"] in ("passed", "failed"):
            final[event["account_id"]].add(json.dumps(event, sort_keys=True))
    verdict.halted_twice += [
        f"{a}: {len(v)} final decisions" for a, v in final.items() if len(v) > 1
    ]
    return verdict
