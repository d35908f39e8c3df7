"""How fast the load generators publish from one process: `python -m bench.generators [s]`.

Uses FILLSTREAM_KAFKA_BOOTSTRAP, else starts the local broker in a temporary directory. Prints a
table and writes bench/results/generators.json.
"""

from __future__ import annotations

import os
import platform
import sys
import uuid

from bench import harness
from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.simulate.run import run_market, run_traders


async def measure(bootstrap: str, seconds: float) -> dict:
    settings = Settings(topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.", kafka_bootstrap=bootstrap)
    kafka = Kafka(bootstrap)
    ticks = await run_market(
        settings, kafka, crypto=8, prediction=4, rate=None, seconds=seconds, seed=1,
        replay=None, speed=0, quotes=True,
    )  # fmt: skip
    orders = await run_traders(
        settings, kafka, accounts=1000, rate=None, seconds=seconds, seed=1, bad_share=0.02,
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
    harness.run("generators", lambda bootstrap, work: measure(bootstrap, seconds))


if __name__ == "__main__":
    main()
