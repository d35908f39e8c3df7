"""Where an order's time goes: the peers' pipeline job (bench.peers: orders to 10 000 accounts,
drained as a backlog) with py-spy sampling the worker while it drains (bench.profile's sampler).

`python -m bench.profile_orders [orders]` prints the summary and writes
bench/results/profile_orders.json.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from bench import harness, peers


async def measure(bootstrap: str, orders: int, work: Path) -> dict:
    sampled: list[dict] = []
    rate = await peers.pipeline(bootstrap, f"o{uuid.uuid4().hex[:6]}.", orders, work,
                                sampled=sampled)  # fmt: skip
    return {"orders": orders, "orders_per_second": round(rate), **sampled[0]}


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    harness.run("profile_orders", lambda bootstrap, work: measure(bootstrap, orders, work))


if __name__ == "__main__":
    main()
