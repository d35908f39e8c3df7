"""How fast the load generators publish from one process: `python bench/generators.py [seconds]`.

Uses FILLSTREAM_KAFKA_BOOTSTRAP, else starts the local broker in a temporary directory. Prints a
table and writes bench/results/generators.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import tempfile
import uuid
from pathlib import Path

from fillstream import localkafka
from fillstream.settings import Settings
from fillstream.simulate.run import run_market, run_traders

RESULTS = Path(__file__).resolve().parent / "results"


async def measure(bootstrap: str, seconds: float) -> dict:
    settings = Settings(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", kafka_bootstrap=bootstrap)
    ticks = await run_market(
        settings, bootstrap, crypto=8, prediction=4, rate=None, seconds=seconds, seed=1,
        replay=None, speed=0,
    )  # fmt: skip
    orders = await run_traders(
        settings, bootstrap, accounts=1000, rate=None, seconds=seconds, seed=1, bad_share=0.02,
        reckless_share=0.1,
    )  # fmt: skip
    return {
        "seconds": seconds,
        "ticks_per_second": round(ticks.rate),
        "orders_per_second": round(orders.rate),
        "ticks": ticks.messages,
        "orders": orders.messages,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    bootstrap = os.environ.get("FILLSTREAM_KAFKA_BOOTSTRAP")
    data_dir = None
    if not bootstrap:
        data_dir = Path(tempfile.mkdtemp(prefix="fillstream-bench-"))
        bootstrap = localkafka.start(data_dir).bootstrap
    try:
        result = asyncio.run(measure(bootstrap, seconds))
    finally:
        if data_dir is not None:
            localkafka.stop(data_dir)
    print(f"{'generator':<10} {'messages/s':>12}")
    print(f"{'market':<10} {result['ticks_per_second']:>12,}")
    print(f"{'traders':<10} {result['orders_per_second']:>12,}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "generators.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
