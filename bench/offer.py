"""Offers ticks and orders at fixed rates, as upstream systems would, from its own process.

Run by the latency and sustained-throughput benchmarks, so that generating the load does not
share an event loop with measuring it. Each order's send time (wall clock) is written to a JSON
file, by order id, for the latency figures.
`python -m bench.offer BOOTSTRAP PREFIX TICKS_PER_S ORDERS_PER_S SECONDS SENT_FILE [ACCOUNTS]`
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from fillstream.settings import Settings
from fillstream.simulate.market import MarketModel
from fillstream.simulate.traders import TraderModel

SEED = 7
ACCOUNTS = 1000
PACE_SECONDS = 0.002


def market(ticks_per_second: float) -> MarketModel:
    return MarketModel(8, 4, SEED, max(ticks_per_second, 1), datetime.now(UTC))


def traders(accounts: int = ACCOUNTS) -> TraderModel:
    return TraderModel(accounts, SEED, bad_share=0.0, reckless_share=0.0)


async def offer(
    bootstrap: str,
    prefix: str,
    tick_rate: float,
    order_rate: float,
    seconds: float,
    accounts: int = ACCOUNTS,
) -> tuple[dict[str, float], int]:
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    ticks_topic, orders_topic = settings.topic("ticks"), settings.topic("orders")
    model, flow = market(tick_rate), traders(accounts)
    instruments = {i["symbol"]: i for i in model.instruments()}
    prices: dict[str, str] = {}
    ticks = model.ticks()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks=1)
    await producer.start()
    sent_at: dict[str, float] = {}
    ticks_sent = 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            while ticks_sent < elapsed * tick_rate:
                symbol, value = next(ticks)
                prices[symbol] = json.loads(value)["price"]
                await producer.send(ticks_topic, key=symbol.encode(), value=value)
                ticks_sent += 1
            while len(sent_at) < elapsed * order_rate and prices:
                account_id, value = flow.order(instruments, prices)
                order_id = json.loads(value)["order_id"]
                sent_at[order_id] = time.time()
                await producer.send(orders_topic, key=account_id.encode(), value=value)
            await asyncio.sleep(PACE_SECONDS)
        await producer.flush()
    finally:
        await producer.stop()
    return sent_at, ticks_sent


def main() -> None:
    bootstrap, prefix, ticks, orders, seconds, sent_file = sys.argv[1:7]
    accounts = int(sys.argv[7]) if len(sys.argv) > 7 else ACCOUNTS
    sent_at, ticks_sent = asyncio.run(
        offer(bootstrap, prefix, float(ticks), float(orders), float(seconds), accounts)
    )
    Path(sent_file).write_text(json.dumps({"ticks": ticks_sent, "orders": sent_at}))


if __name__ == "__main__":
    main()
