"""A pipeline worker that kills itself (SIGKILL, as kill -9 would) at the most delicate moments
of a checkpoint, for the chaos tests: ``python -m tests.apps.crashing_worker SEED``.

After a random number of checkpoints it dies at a random phase: while the batch's state is still
being written, once the state is durable but nothing was sent, half way through the outputs, or
with every output sent and the progress not yet written.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from typing import Any

from fillstream.settings import Settings
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output
from fillstream.worker.main import build

PHASES = ("writing-state", "state-durable", "half-sent", "sent")


class CrashingCheckpoint(Checkpoint):
    rng = random.Random()
    commits_left = 0
    phase = PHASES[0]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        if not cls.commits_left:
            cls.commits_left = cls.rng.randint(2, 100)
            cls.phase = cls.rng.choice(PHASES)

    def _crash_now(self, phase: str) -> None:
        if type(self).commits_left <= 0 and type(self).phase == phase:
            print(f"crashing at {phase}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    async def commit(self, state_writes: list[asyncio.Future], store_progress: Any) -> None:
        type(self).commits_left -= 1

        def store() -> None:
            self._crash_now("sent")
            store_progress()

        await super().commit(state_writes, store)

    async def _durable(self, state_writes: list[asyncio.Future]) -> None:
        self._crash_now("writing-state")
        await super()._durable(state_writes)
        self._crash_now("state-durable")

    async def _deliver(self, outputs: list[Output]) -> None:
        half = len(outputs) // 2
        await super()._deliver(outputs[:half])
        self._crash_now("half-sent")
        await super()._deliver(outputs[half:])


def main(seed: str) -> None:
    CrashingCheckpoint.rng.seed(f"{seed}-{os.getpid()}")
    app = build(Settings(), checkpoint=CrashingCheckpoint)
    sys.argv = ["fillstream", "worker", "--loglevel", "warn"]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1])
