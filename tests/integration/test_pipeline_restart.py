"""A worker stopped mid-stream and restarted on an empty disk restores its state from the
changelogs: no order executes twice, every order ends once, and the ledger equals its fills."""

from __future__ import annotations

import asyncio
import random
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from tests.pipeline import Pipeline

ACCOUNTS = [f"acc-{n}" for n in range(4)]
STARTING_BALANCE = Decimal(1_000_000)
ORDER_COUNT = 240
TERMINAL = {"rejected", "filled", "cancelled", "expired"}


def generated_orders(seed: int = 7) -> list[tuple[str, str, str, str, str, dict]]:
    """Market and limit orders, crypto and prediction; every limit lies inside (95, 105)."""
    rng = random.Random(seed)
    orders = []
    for n in range(ORDER_COUNT):
        account = ACCOUNTS[n % len(ACCOUNTS)]
        side = rng.choice(["buy", "sell"])
        if n % 5 == 4:
            orders.append(
                (
                    account,
                    f"o{n}",
                    "CHANCE",
                    "buy",
                    str(rng.randint(1, 20)),
                    {"outcome": rng.choice(["yes", "no"])},
                )
            )
        elif n % 3 == 0:
            limit = f"{rng.randint(96, 104)}.{rng.randint(0, 99):02d}"
            orders.append(
                (account, f"o{n}", "XYZ", side, str(rng.randint(1, 9)), {"limit_price": limit})
            )
        else:
            orders.append((account, f"o{n}", "XYZ", side, str(rng.randint(1, 9)), {}))
    return orders


def terminal_count(outputs: dict) -> int:
    return sum(e["status"] in TERMINAL for e in outputs["order_events"])


def fold(fills: list[dict]) -> dict[str, tuple[Decimal, dict[str, Decimal]]]:
    ledgers: dict[str, tuple[Decimal, dict[str, Decimal]]] = {}
    for fill in fills:
        cash, positions = ledgers.get(fill["account_id"], (STARTING_BALANCE, defaultdict(Decimal)))
        notional = Decimal(fill["quantity"]) * Decimal(fill["price"])
        signed = Decimal(fill["quantity"]) if fill["side"] == "buy" else -Decimal(fill["quantity"])
        cash += (-notional if fill["side"] == "buy" else notional) - Decimal(fill["fee"])
        key = fill["symbol"] + (f":{fill['outcome']}" if "outcome" in fill else "")
        positions[key] += signed
        ledgers[fill["account_id"]] = (cash, positions)
    return ledgers


async def test_restart_on_an_empty_disk_restores_state_and_executes_nothing_twice(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    orders = generated_orders()
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:
        await p.instrument(
            "XYZ", taker_fee_bps="10", maker_fee_bps="2", slippage_bps="5", tick_size="0.01"
        )
        await p.instrument("CHANCE", kind="prediction", taker_fee_bps="50")
        for account in ACCOUNTS:
            await p.account(account, str(STARTING_BALANCE))
        await p.tick("XYZ", "100")
        await p.tick("CHANCE", "0.3")

        async def produce() -> None:
            for account, order_id, symbol, side, quantity, extra in orders:
                await p.order(account, order_id, symbol, side, quantity, **extra)
                await asyncio.sleep(0.02)  # pacing the upstream, not synchronisation

        producer = asyncio.create_task(produce())
        await p.wait_for(lambda o: terminal_count(o) >= ORDER_COUNT // 4)
        p.worker.stop()
        assert p.worker.process.returncode == 0, p.worker.log_tail()
        ended_before_restart = terminal_count(p.outputs())
        shutil.rmtree(data_dir / "faust")
        p.worker.start()
        await producer
        await p.tick("XYZ", "95")
        await p.tick("XYZ", "105")
        await p.wait_for(lambda o: terminal_count(o) >= ORDER_COUNT, timeout=120)
        await p.downstream.drain()
        outputs = p.outputs()
        states = {account: p.api("GET", f"/accounts/{account}")[1] for account in ACCOUNTS}

    assert ended_before_restart < ORDER_COUNT, "the stop must land mid-stream"
    terminal_by_order: dict[str, int] = defaultdict(int)
    for event in outputs["order_events"]:
        terminal_by_order[event["order_id"]] += event["status"] in TERMINAL
    assert terminal_by_order == {order_id: 1 for _, order_id, *_ in orders}
    fill_ids = [fill["fill_id"] for fill in outputs["fills"]]
    assert len(fill_ids) == len(set(fill_ids))
    filled = {e["order_id"] for e in outputs["order_events"] if e["status"] == "filled"}
    assert {fill["order_id"] for fill in outputs["fills"]} == filled
    assert len(filled) > ORDER_COUNT // 2
    for account, (cash, positions) in fold(outputs["fills"]).items():
        state = states[account]
        assert Decimal(state["cash"]) == cash
        stored = {
            position["symbol"] + (f":{position['outcome']}" if "outcome" in position else ""): (
                Decimal(position["quantity"])
            )
            for position in state["positions"]
        }
        assert stored == {key: quantity for key, quantity in positions.items() if quantity != 0}
