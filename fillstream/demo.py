"""`fillstream demo`: a local broker, a worker, a small trading session, a summary, a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fillstream import localkafka
from fillstream.settings import Settings
from fillstream.streams.admin import ensure_topics, pipeline_topics

INSTRUMENTS = [
    {
        "symbol": "BTC-USD",
        "kind": "crypto",
        "taker_fee_bps": "5",
        "maker_fee_bps": "1",
        "slippage_bps": "2",
        "tick_size": "0.01",
        "lot_size": "0.001",
    },
    {
        "symbol": "ETH-USD",
        "kind": "crypto",
        "taker_fee_bps": "5",
        "maker_fee_bps": "1",
        "slippage_bps": "3",
        "tick_size": "0.01",
        "lot_size": "0.01",
    },
    {
        "symbol": "RAIN-TOMORROW",
        "kind": "prediction",
        "taker_fee_bps": "20",
        "maker_fee_bps": "0",
        "slippage_bps": "0",
        "tick_size": "0.01",
        "lot_size": "1",
    },
]
START_PRICES = {
    "BTC-USD": Decimal("60000"),
    "ETH-USD": Decimal("3000"),
    "RAIN-TOMORROW": Decimal("0.55"),
}
ACCOUNTS = [
    {"account_id": "careful-carol", "starting_balance": "100000", "max_order_pct": "20"},
    {"account_id": "steady-sam", "starting_balance": "50000", "max_leverage": "2"},
    {
        "account_id": "reckless-rick",
        "starting_balance": "20000",
        "max_leverage": "5",
        "max_drawdown_pct": "2",
    },
]
OUTPUTS = ("fills", "order_events", "risk_events", "dead_letters")


def run_demo(settings: Settings, seconds: float) -> int:
    """Uses the configured Kafka, else the local broker (started and stopped here if not up)."""
    bootstrap = settings.kafka_bootstrap
    started_broker = False
    if not bootstrap:
        running = localkafka.read_state(settings.kafka_dir)
        if running is None:
            print("starting the local Kafka broker ...")
            running = localkafka.start(settings.kafka_dir, settings.kafka_port, settings.kafka_heap)
            started_broker = True
        bootstrap = running.bootstrap
    print(f"Kafka at {bootstrap}")
    try:
        return asyncio.run(_demo(settings, bootstrap, seconds))
    finally:
        if started_broker:
            localkafka.stop(settings.kafka_dir)
            print("local Kafka stopped")


async def _demo(base: Settings, bootstrap: str, seconds: float) -> int:
    run_id = datetime.now(UTC).strftime("demo-%Y%m%d%H%M%S")
    settings = base.model_copy(update={"topic_prefix": f"{run_id}.", "app_id": run_id})
    await ensure_topics(bootstrap, pipeline_topics(settings), settings.topic_partitions)
    web_port, sink_port = localkafka.free_port(), localkafka.free_port()
    ports = {"FILLSTREAM_WEB_PORT": str(web_port), "FILLSTREAM_SINK_PORT": str(sink_port)}
    worker = _start("worker", settings, bootstrap, run_id, ports)
    sink = _start("sink", settings, bootstrap, run_id, ports)
    print(
        f"worker (pid {worker.pid}) and ClickHouse sink (pid {sink.pid}) started; "
        f"topics prefixed {settings.topic_prefix!r}"
    )
    try:
        counts = await _trade(settings, bootstrap, seconds, worker)
        await _print_analytics(sink_port, counts["fills"], sink)
    finally:
        for name, process in (("worker", worker), ("sink", sink)):
            _stop(process)
            print(f"{name} stopped")
    return 0 if counts["fills"] > 0 else 1


def _start(
    role: str, settings: Settings, bootstrap: str, run_id: str, ports: dict[str, str]
) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        ports,
        FILLSTREAM_KAFKA_BOOTSTRAP=bootstrap,
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


def _sql(port: int, query: str) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/sql", data=query.encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except OSError:
        return None


ANALYST_QUERY = """SELECT account_id, fills, realized - fees AS net_realized, equity
FROM account_equity ORDER BY equity DESC"""


async def _print_analytics(port: int, fills: int, sink: subprocess.Popen) -> None:
    """Wait until the sink holds every fill seen, then ask ClickHouse what analysts would."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sink.poll() is None:
        answer = _sql(port, "SELECT count() FROM trades")
        if answer and answer["rows"][0][0] >= fills:
            break
        await asyncio.sleep(0.5)
    answer = _sql(port, ANALYST_QUERY)
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


async def _trade(settings: Settings, bootstrap: str, seconds: float, worker) -> Counter:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    consumer = AIOKafkaConsumer(
        *(settings.topic(name) for name in OUTPUTS),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await producer.start()
    await consumer.start()
    names = {settings.topic(name): name for name in OUTPUTS}
    counts: Counter = Counter()
    rejections: Counter = Counter()
    cash: dict[str, str] = {}
    positions: dict[str, dict[str, Decimal]] = {}
    violations: list[dict] = []
    rng = random.Random(42)
    prices = dict(START_PRICES)

    async def send(topic: str, key: str, value: dict | bytes) -> None:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send(settings.topic(topic), key=key.encode(), value=raw)

    async def collect() -> None:
        for records in (await consumer.getmany(timeout_ms=100)).values():
            for record in records:
                name = names[record.topic]
                value = json.loads(record.value)
                counts[name] += 1
                if name == "order_events" and value["status"] == "rejected":
                    rejections[value["reason"]] += 1
                elif name == "fills":
                    cash[value["account_id"]] = value["cash_after"]
                    key = value["symbol"] + (f":{value['outcome']}" if "outcome" in value else "")
                    positions.setdefault(value["account_id"], {})[key] = Decimal(
                        value["position_quantity"]
                    )
                elif name == "risk_events" and value["type"] == "drawdown_violation":
                    violations.append(value)

    try:
        for instrument in INSTRUMENTS:
            await send("instruments", instrument["symbol"], instrument)
        for account in ACCOUNTS:
            await send("accounts", account["account_id"], account)
        await producer.flush()
        while counts["risk_events"] < len(ACCOUNTS):  # each opening is announced
            if worker.poll() is not None:
                raise RuntimeError("the worker exited; see var/demo-worker.log")
            await collect()
        print("accounts open; trading")
        sequence = 0
        deadline = time.monotonic() + seconds
        next_report = time.monotonic() + 1
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError("the worker exited; see var/demo-worker.log")
            for symbol, price in prices.items():
                step = Decimal(str(round(rng.gauss(0, 0.004), 6)))
                if symbol == "RAIN-TOMORROW":
                    price = min(max(price + step * 5, Decimal("0.02")), Decimal("0.98"))
                else:
                    price = price * (1 + step)
                prices[symbol] = price.quantize(Decimal("0.01"))
                await send(
                    "ticks",
                    symbol,
                    {
                        "symbol": symbol,
                        "price": str(prices[symbol]),
                        "ts": datetime.now(UTC).isoformat(),
                    },
                )
            for account in ACCOUNTS:
                sequence += 1
                await send(
                    "orders",
                    account["account_id"],
                    _random_order(rng, account["account_id"], sequence, prices),
                )
            if sequence % 60 == 0:
                await send("orders", "careful-carol", b'{"order_id": "broken", ')
            await collect()
            if time.monotonic() >= next_report:
                next_report += 1
                print(
                    f"  fills {counts['fills']:5d}  order events {counts['order_events']:5d}  "
                    f"rejections {sum(rejections.values()):4d}  violations {len(violations)}  "
                    f"dead letters {counts['dead_letters']}"
                )
            await asyncio.sleep(0.05)
        settle = time.monotonic() + 5
        while time.monotonic() < settle:
            await collect()
    finally:
        await producer.stop()
        await consumer.stop()
    _print_summary(counts, rejections, violations, cash, positions, prices)
    return counts


def _random_order(rng: random.Random, account_id: str, sequence: int, prices) -> dict:
    symbol = rng.choice(list(prices))
    side = rng.choice(["buy", "sell"])
    order = {
        "order_id": f"{account_id}-{sequence}",
        "account_id": account_id,
        "symbol": symbol,
        "side": side,
        "type": "market",
    }
    if symbol == "RAIN-TOMORROW":
        order.update(outcome=rng.choice(["yes", "no"]), quantity=str(rng.randint(10, 400)))
        order["side"] = "buy" if rng.random() < 0.7 else "sell"
    else:
        lot = Decimal("0.001") if symbol == "BTC-USD" else Decimal("0.01")
        order["quantity"] = str(lot * rng.randint(1, 200 if account_id == "reckless-rick" else 40))
    if rng.random() < 0.3:
        reference = prices[symbol] if order.get("outcome") != "no" else 1 - prices[symbol]
        offset = Decimal("0.995") if order["side"] == "buy" else Decimal("1.005")
        order.update(type="limit", limit_price=str((reference * offset).quantize(Decimal("0.01"))))
    return order


def _print_summary(counts, rejections, violations, cash, positions, prices) -> None:
    print("\nsummary")
    print(
        f"  fills: {counts['fills']}, order events: {counts['order_events']}, "
        f"dead letters: {counts['dead_letters']}"
    )
    print(
        "  rejections by reason: "
        + (", ".join(f"{reason} {n}" for reason, n in rejections.most_common()) or "none")
    )
    for violation in violations:
        print(
            f"  drawdown violation: {violation['account_id']} at equity {violation['equity']} "
            f"({Decimal(violation['drawdown_pct']):.2f} % below peak {violation['peak_equity']})"
        )
    print("  accounts by equity (cash + positions at the last prices):")
    equities = {}
    for account in ACCOUNTS:
        account_id = account["account_id"]
        equity = Decimal(cash.get(account_id, account["starting_balance"]))
        for key, quantity in positions.get(account_id, {}).items():
            symbol, _, outcome = key.partition(":")
            mark = 1 - prices[symbol] if outcome == "no" else prices[symbol]
            equity += quantity * mark
        equities[account_id] = equity
    for account_id, equity in sorted(equities.items(), key=lambda item: -item[1]):
        print(f"    {account_id:15s} {equity:14.2f}")
