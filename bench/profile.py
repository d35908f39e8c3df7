"""Where a worker's time goes: the throughput backlog drained under py-spy.

py-spy samples the worker process from outside (no code change, little overhead) while it drains
the same backlog as `bench.throughput`. The samples are summed into the functions that hold the
CPU themselves (self time) and the libraries the time is spent in.
`python -m bench.profile [orders]` prints both and writes bench/results/profile.json; the raw
stacks stay in the work directory printed first, for a flame graph.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from bench import harness
from bench.throughput import TICKS_PER_ORDER, drain_rate, env_for, prepare_pipeline, stop, worker

TOP = 25
SAMPLE_RATE = 250


def library(frame: str) -> str:
    """A frame's package: 'faust', 'aiokafka', 'fillstream', 'json', ..."""
    location = frame[frame.rfind("(") + 1 : frame.rfind(":")]
    parts = Path(location).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if parts and parts[0] in ("fillstream", "bench"):
        return parts[0]
    return f"stdlib {parts[0].removesuffix('.py')}" if parts else "?"


def summarise(raw: Path) -> dict:
    self_time: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        leaf = frames[-1]
        self_time[leaf] += samples
        by_library[library(leaf)] += samples
    share = lambda n: round(100 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "self_time_percent": {f: share(n) for f, n in self_time.most_common(TOP)},
        "library_percent": {lib: share(n) for lib, n in by_library.most_common()},
    }


async def measure(bootstrap: str, orders: int, work: Path) -> dict:
    prefix = f"p{uuid.uuid4().hex[:6]}."
    inputs = await prepare_pipeline(bootstrap, prefix, orders)
    env = env_for(bootstrap, prefix, work / "pipeline")
    process = worker([sys.executable, "-m", "fillstream.cli", "worker"], env, work / "worker.log")
    raw = work / "profile.txt"
    sampler = subprocess.Popen(
        [Path(sys.executable).parent / "py-spy", "record", "--pid", str(process.pid),
         "--format", "raw", "--rate", str(SAMPLE_RATE), "--nonblocking", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=(work / "py-spy.log").open("wb"),
    )  # fmt: skip
    try:
        rate = await drain_rate(bootstrap, env["FILLSTREAM_APP_ID"], inputs,
                                orders * (1 + TICKS_PER_ORDER), process)  # fmt: skip
    finally:
        sampler.send_signal(signal.SIGINT)
        sampler.wait(60)
        stop(process)
    print(f"raw stacks: {raw}")
    return {"input_records_per_second_while_sampled": round(rate), **summarise(raw)}


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    harness.run("profile", lambda bootstrap, work: measure(bootstrap, orders, work))


if __name__ == "__main__":
    main()
