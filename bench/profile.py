"""Where a worker's time goes under a steady load (4 ticks per order, 1 000 accounts), by py-spy.

py-spy samples the worker process from outside (no code change, little overhead), counting only
the thread holding the GIL, after a warm-up. The samples are summed into the functions that hold
the CPU themselves (self time), fillstream's own functions including what they call, and the
libraries. `python -m bench.profile [orders/s] [seconds]` prints them and writes
bench/results/profile.json; the raw stacks stay in the work directory, for a flame graph.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from bench import harness
from bench.latency import start_pipeline
from bench.throughput import REPO, TICKS_PER_ORDER, stop

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
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        samples = int(count)
        total += samples
        self_time[frames[-1]] += samples
        by_library[library(frames[-1])] += samples
        for frame in set(frames):
            if "(fillstream/" in frame and "(fillstream/cli.py)" not in frame:
                inclusive[frame] += samples
    share = lambda n: round(100 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "self_time_percent": {f: share(n) for f, n in self_time.most_common(TOP)},
        "fillstream_inclusive_percent": {f: share(n) for f, n in inclusive.most_common(TOP)},
        "library_self_percent": {lib: share(n) for lib, n in by_library.most_common(12)},
    }


class Sampler:
    """py-spy sampling a running process until the block ends; `summary()` after it."""

    def __init__(self, pid: int, work: Path, name: str) -> None:
        self.raw = work / f"{name}.stacks.txt"
        self.command = [
            str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--gil",
            "--format", "raw", "--rate", str(SAMPLE_RATE), "--nonblocking", "--output",
            str(self.raw),
        ]  # fmt: skip
        self.log = work / f"{name}.py-spy.log"

    def __enter__(self) -> Sampler:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=self.log.open("wb")
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)

    def summary(self) -> dict:
        print(f"raw stacks: {self.raw}")
        return summarise(self.raw)


async def measure(bootstrap: str, orders: int, seconds: float, work: Path) -> dict:
    """The worker under a steady offered load, sampled after a warm-up of a third of the run."""
    prefix = f"p{uuid.uuid4().hex[:6]}."
    pipeline = await start_pipeline(bootstrap, prefix, work)
    offered = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.offer", bootstrap, prefix, str(orders * TICKS_PER_ORDER),
        str(orders), str(seconds), "/dev/null", cwd=REPO,
    )  # fmt: skip
    try:
        await asyncio.sleep(seconds / 3)
        with Sampler(pipeline.worker.pid, work, "worker") as sampler:
            await offered.wait()
    finally:
        await pipeline.close()
        stop(pipeline.worker)
    return {
        "orders_per_second": orders,
        "ticks_per_second": orders * TICKS_PER_ORDER,
        **sampler.summary(),
    }


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 250
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 45
    harness.run("profile", lambda bootstrap, work: measure(bootstrap, orders, seconds, work))


if __name__ == "__main__":
    main()
