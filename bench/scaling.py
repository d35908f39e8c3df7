"""One worker against two on the machine's two cores, in one run: the peers' pipeline job
(bench.peers: orders to 10 000 accounts, drained as a backlog) with one worker, then with two in
the same group, each on its own data directory.

`python -m bench.scaling [orders]` prints a table and writes bench/results/scaling.json.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from bench import harness, peers


async def measure(bootstrap: str, orders: int, work: Path) -> dict:
    run = uuid.uuid4().hex[:6]
    one = await peers.pipeline(bootstrap, f"w{run}a.", orders, work, workers=1)
    two = await peers.pipeline(bootstrap, f"w{run}b.", orders, work, workers=2)
    return {
        "orders": orders,
        "one_worker_orders_per_second": round(one),
        "two_workers_orders_per_second": round(two),
        "two_over_one": round(two / one, 2),
    }


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    harness.run("scaling", lambda bootstrap, work: measure(bootstrap, orders, work))


if __name__ == "__main__":
    main()
