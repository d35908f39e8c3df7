"""Where a worker's time goes: the throughput backlog drained under py-spy.

py-spy samples the worker process from outside (no code change, little overhead) while it drains
the same backlog as `bench.throughput`, from its first commit on (start-up left out), counting only
the thread holding the GIL. The samples are summed into the functions that hold the CPU themselves
(self time), fillstream's own functions including what they call, and the libraries.
`python -m bench.profile [orders]` prints both and writes bench/results/profile.json; the raw
stacks stay in the work directory printed first, for a flame graph.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from bench import harness
from bench.throughput import (
    TICKS_PER_ORDER,
    committed,
    drain_rate,
    env_for,
    prepare_pipeline,
    stop,
    worker,
)

TOP = 25
SAMPLE_RATE = 250


def library(frame: str) -> str:
    """A frame's top-level package: 'faust', 'aiokafka', 'fillstream', 'asyncio', 'json', ..."""
    location = frame[frame.rfind("(") + 1 : frame.rfind(":")]
    parts = Path(location).parts
    return parts[0].removesuffix(".py") if parts else "?"


def summarise(raw: Path) -> dict:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        self_time[frames[-1]] += samples
        by_library[library(frames[-1])] += samples
        for frame in set(frames):
            if frame.startswith(("_", "fillstream")) or "(fillstream/" in frame:
                inclusive[frame] += samples
    share = lambda n: round(100 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "self_time_percent": {f: share(n) for f, n in self_time.most_common(TOP)},
        "fillstream_inclusive_percent": {f: share(n) for f, n in inclusive.most_common(TOP)},
        "library_self_percent": {lib: share(n) for lib, n in by_library.most_common(12)},
    }


async def measure(bootstrap: str, orders: int, work: Path) -> dict:
    prefix = f"p{uuid.uuid4().hex[:6]}."
    inputs = await prepare_pipeline(bootstrap, prefix, orders)
    env = env_for(bootstrap, prefix, work / "pipeline")
    process = worker([sys.executable, "-m", "fillstream.cli", "worker"], env, work / "worker.log")
    raw = work / "profile.txt"
    group = env["FILLSTREAM_APP_ID"]
    while await committed(bootstrap, group, inputs) == 0:  # start-up is not the hot path
        await asyncio.sleep(0.2)
    sampler = subprocess.Popen(
        [Path(sys.executable).parent / "py-spy", "record", "--pid", str(process.pid), "--gil",
         "--format", "raw", "--rate", str(SAMPLE_RATE), "--nonblocking", "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=(work / "py-spy.log").open("wb"),
    )  # fmt: skip
    try:
        rate = await drain_rate(bootstrap, group, inputs,
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
