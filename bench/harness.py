"""What every benchmark script shares: a broker (the configured one, else a local one started and
stopped around the run), a table of figures, and a JSON file of them in bench/results/."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from fillstream.broker import local as localkafka

RESULTS = Path(__file__).resolve().parent / "results"


def run(name: str, measure: Callable[[str, Path], Awaitable[dict]]) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"fillstream-{name}-"))
    bootstrap = os.environ.get("FILLSTREAM_KAFKA_BOOTSTRAP")
    local = not bootstrap
    if local:
        bootstrap = localkafka.start(work / "kafka").bootstrap
    try:
        result = asyncio.run(measure(bootstrap, work))
    finally:
        if local:
            localkafka.stop(work / "kafka")
    for key, value in result.items():
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        print(f"{key:<36} {shown:>14}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
