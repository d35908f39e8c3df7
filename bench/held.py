"""Sustained load on one worker whose accounts all hold positions and rest orders: 10 000
accounts, each holding 3 crypto positions and resting a buy limit below the market, then ticks
and orders offered together at each load in turn (bench.offer, its own process) while the
worker's consumer lag is sampled (bench.sustained). Every tick is marked exactly (the level
index), so this is the load that used to need conflated marks.

`python -m bench.held [seconds per load] [ticks/s:orders/s ...] [--before REF]` prints a table
and writes bench/results/held.json; with `--before`, the tree at REF (exported as bench.compare
does) runs the same loads first, on the same broker, for a side-by-side figure.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from decimal import ROUND_DOWN, Decimal
from itertools import islice
from pathlib import Path

from bench import harness, offer
from bench.compare import export
from bench.sustained import drained, step
from bench.throughput import REPO, env_for, preload, stop, worker
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings

ACCOUNTS = 10_000
HELD = 3
LOADS = [(2_000, 200), (5_000, 500), (10_000, 1_000), (20_000, 2_000), (5_000, 5_000)]


def seed_orders(instruments: list[dict], prices: dict[str, str]):
    """Per account: a small market buy of HELD crypto symbols, and a buy limit 20 % below."""
    crypto = [i for i in instruments if i["kind"] == "crypto"]
    for n in range(ACCOUNTS):
        account_id = f"trader-{n:04d}"
        chosen = [crypto[(n + k) % len(crypto)] for k in range(HELD)]
        for k, instrument in enumerate(chosen):
            symbol, price = instrument["symbol"], Decimal(prices[instrument["symbol"]])
            lot = Decimal(instrument.get("lot_size") or "0.001")
            quantity = max((Decimal(100) / price / lot).to_integral_value(ROUND_DOWN) * lot, lot)
            order = {"order_id": f"seed-{n}-{k}", "account_id": account_id, "symbol": symbol,
                     "side": "buy", "type": "market", "quantity": str(quantity)}  # fmt: skip
            yield account_id, json.dumps(order).encode()
        instrument = chosen[0]
        tick = Decimal(instrument.get("tick_size") or "0.01")
        limit = (Decimal(prices[instrument["symbol"]]) * Decimal("0.8") / tick).to_integral_value(
            ROUND_DOWN
        ) * tick
        order = {"order_id": f"seed-{n}-rest", "account_id": account_id,
                 "symbol": instrument["symbol"], "side": "buy", "type": "limit",
                 "quantity": str(instrument.get("lot_size") or "0.001"),
                 "limit_price": str(limit)}  # fmt: skip
        yield account_id, json.dumps(order).encode()


async def measure(
    bootstrap: str, seconds: float, loads: list[tuple[int, int]], work: Path, code: Path = REPO
) -> dict:
    prefix = f"h{uuid.uuid4().hex[:6]}."
    settings = Settings(topic_prefix=prefix, kafka_bootstrap=bootstrap)
    await ensure_topics(Kafka(bootstrap), pipeline_topics(settings), 4)
    model = offer.market(1)
    instruments = model.instruments()
    ticks = list(islice(model.ticks(), len(instruments)))
    prices = {symbol: json.loads(value)["price"] for symbol, value in ticks}
    await preload(bootstrap, settings.topic("instruments"),
                  ((i["symbol"], json.dumps(i).encode()) for i in instruments))  # fmt: skip
    await preload(bootstrap, settings.topic("accounts"),
                  offer.traders(ACCOUNTS).account_messages())  # fmt: skip
    await preload(bootstrap, settings.topic("ticks"), ticks)
    env = env_for(bootstrap, prefix, work / f"worker-{prefix}", code)
    process = worker([sys.executable, "-m", "fillstream.cli", "worker"], env, work / f"{prefix}log")
    group = prefix.rstrip(".")
    inputs = {settings.topic("ticks"), settings.topic("orders")}
    results = []
    try:
        await drained(bootstrap, group, {settings.topic("accounts")}, 600)
        seeded = time.monotonic()
        await preload(bootstrap, settings.topic("orders"), seed_orders(instruments, prices))
        await drained(bootstrap, group, inputs, 900)
        seeding = time.monotonic() - seeded
        for ticks_rate, orders_rate in loads:
            await drained(bootstrap, group, inputs, 900)
            figures = await step(bootstrap, prefix, group, inputs, orders_rate, seconds,
                                 ticks=ticks_rate, accounts=ACCOUNTS)  # fmt: skip
            figures.pop("lag_each_second")
            results.append(figures)
            print(results[-1], flush=True)
    finally:
        stop(process)
    return {
        "accounts": ACCOUNTS,
        "positions_each": HELD,
        "seed_orders": ACCOUNTS * (HELD + 1),
        "seed_seconds": round(seeding, 1),
        "seconds_per_load": seconds,
        "loads": results,
    }


async def side_by_side(
    bootstrap: str, seconds: float, loads: list[tuple[int, int]], work: Path, ref: str
) -> dict:
    before = await measure(bootstrap, seconds, loads, work, export(ref, work))
    after = await measure(bootstrap, seconds, loads, work)
    return {"before": ref, "results_before": before, "results_after": after}


def main() -> None:
    args = sys.argv[1:]
    ref = None
    if "--before" in args:
        at = args.index("--before")
        ref = args[at + 1]
        del args[at : at + 2]
    seconds = float(args[0]) if args else 30
    loads = [tuple(int(x) for x in a.split(":")) for a in args[1:]] or LOADS
    if ref is None:
        harness.run("held", lambda bootstrap, work: measure(bootstrap, seconds, loads, work))
    else:
        harness.run(
            "held", lambda bootstrap, work: side_by_side(bootstrap, seconds, loads, work, ref)
        )


if __name__ == "__main__":
    main()
