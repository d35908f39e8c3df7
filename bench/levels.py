"""Exact marks in the pure core, the level index against brute force, side by side in one run:
ACCOUNTS accounts each holding HELD crypto positions and resting a buy limit (bench.held's seed),
then TICKS ticks of the simulated market (8 crypto symbols, a random walk). Brute force visits
every holder of the ticked symbol (its orders, then its mark); the index visits only the
accounts whose levels the tick reaches, and gives each its new levels. Both must end with the
same accounts. No Kafka: this is the rules' own cost, the floor under the worker's.

`python -m bench.levels [accounts ...]` prints a table and writes bench/results/levels.json.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice

from bench import held, offer
from bench.harness import RESULTS
from fillstream.core import engine, levels
from fillstream.core.model import (
    Account,
    AccountLimits,
    InMemoryOrderIds,
    Market,
    Quote,
    copy_account,
)
from fillstream.wire.inbound import (
    InstrumentMessage,
    OrderMessage,
    TickMessage,
    to_instrument,
    to_order,
)

TICKS = 2_000


def book(accounts: int) -> tuple[dict[str, Account], Market, dict, dict, list[tuple[str, bytes]]]:
    model = offer.market(2_000)
    instruments = model.instruments()
    known = {i["symbol"]: to_instrument(InstrumentMessage.model_validate(i)) for i in instruments}
    prices: dict[str, Decimal] = {}
    quotes: dict[str, Quote | None] = {}
    ticks = model.ticks()
    for _, value in islice(ticks, len(instruments)):
        tick = TickMessage.model_validate_json(value)
        prices[tick.symbol], quotes[tick.symbol] = tick.price, tick.quote()
    market = Market(known.get, prices.get, quotes.get)
    limits = AccountLimits(Decimal(1), Decimal(25), Decimal(10))
    book = {f"trader-{n:04d}": engine.open_account(f"trader-{n:04d}", Decimal(10_000), limits)
            for n in range(accounts)}  # fmt: skip
    ids = {account_id: InMemoryOrderIds() for account_id in book}
    now = datetime.now(UTC)
    held.ACCOUNTS = accounts
    for account_id, value in held.seed_orders(instruments, {k: str(v) for k, v in prices.items()}):
        order = to_order(OrderMessage.model_validate_json(value))
        engine.submit_order(book[account_id], order, market, order_ids=ids[account_id], now=now,
                            offset=0, duplicate_window=timedelta(hours=1))  # fmt: skip
    return book, market, prices, quotes, list(islice(ticks, TICKS))


def run(accounts: int) -> dict:
    brute, market, prices, quotes, ticks = book(accounts)
    indexed = {account_id: copy_account(account) for account_id, account in brute.items()}
    holders: dict[str, list[str]] = {}
    for account_id, account in brute.items():
        for symbol in levels.watched(account):
            holders.setdefault(symbol, []).append(account_id)
    decoded = [TickMessage.model_validate_json(value) for _, value in ticks]
    start = prices.copy(), quotes.copy()

    def replay(visit) -> float:
        prices.update(start[0])
        quotes.update(start[1])
        began = time.perf_counter()
        for tick in decoded:
            prices[tick.symbol], quotes[tick.symbol] = tick.price, tick.quote()
            visit(tick)
        return time.perf_counter() - began

    visits = {"brute": 0, "indexed": 0}

    def every_holder(tick: TickMessage) -> None:
        for account_id in sorted(holders.get(tick.symbol, ())):
            engine.on_tick(brute[account_id], tick.symbol, market, tick.ts)
            visits["brute"] += 1

    index = levels.LevelIndex()
    for account_id, account in indexed.items():
        index.set(account_id, levels.levels(account, market))

    def through_index(tick: TickMessage) -> None:
        for account_id in index.touched(tick.symbol, levels.seen(market, tick.symbol), tick.ts):
            account = indexed[account_id]
            engine.on_tick(account, tick.symbol, market, tick.ts)
            index.set(account_id, levels.levels(account, market))
            visits["indexed"] += 1

    brute_seconds = replay(every_holder)
    indexed_seconds = replay(through_index)
    assert indexed == brute, "the index and brute force ended with different accounts"
    holding = sum(len(holders.get(t.symbol, ())) for t in decoded) / len(decoded)
    return {
        "accounts": accounts,
        "holders_per_tick": round(holding),
        "visited_per_tick": round(visits["indexed"] / len(decoded), 1),
        "brute_force_ticks_per_second": round(len(decoded) / brute_seconds),
        "indexed_ticks_per_second": round(len(decoded) / indexed_seconds),
        "indexed_over_brute_force": round(brute_seconds / indexed_seconds, 1),
        "microseconds_per_visit": round(1e6 * indexed_seconds / max(visits["indexed"], 1), 1),
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    results = [run(n) for n in sizes]
    for result in results:
        print(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "levels.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
