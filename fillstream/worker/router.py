"""The market router: instruments, ticks and resolutions (keyed by symbol), programs and
firm-wide controls in, validated, and copied in batches to every account partition on the internal
``market-data`` topic.

Each account partition keeps its own copy of the market, so checks, resting-limit fills and marks
run beside the account state, in the order the partition sees them, with no cross-partition reads.
"""

from __future__ import annotations

import time
from datetime import timedelta

from faust.types import StreamT

from fillstream import metrics
from fillstream.core.model import Kind
from fillstream.settings import Settings
from fillstream.wire import topics as contract
from fillstream.wire.codec import BadMessage, decode, encode
from fillstream.wire.inbound import (
    FirmControlRequest,
    InstrumentMessage,
    ResolutionMessage,
    TickMessage,
)
from fillstream.wire.market_data import (
    FirmControlUpdate,
    InstrumentUpdate,
    MarketDataBatch,
    ProgramUpdate,
    ResolutionUpdate,
    TickUpdate,
)
from fillstream.wire.programs import ProgramMessage
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output
from fillstream.worker.inputs import Input, event_time, require_key
from fillstream.worker.sequencing import Sequencer
from fillstream.worker.tables import Table, pair_key

# A batch closes at this many inputs or after this long, whichever comes first. The fan-out then
# costs one record per partition per batch instead of one per tick; the wait is what batching
# adds at most to a tick's way to the accounts.
BATCH_SIZE = 2000
BATCH_WINDOW = 0.02


class Router:
    def __init__(
        self, settings: Settings, kinds: Table, checkpoint: Checkpoint, sequencer: Sequencer
    ) -> None:
        self._kinds = kinds
        self._market_data = settings.topic(contract.MARKET_DATA.name)
        self._checkpoint = checkpoint
        self._sequencer = sequencer
        self._instruments = settings.topic("instruments")
        self._resolutions = settings.topic("resolutions")
        self._firm_controls = settings.topic(contract.FIRM_CONTROLS.name)
        self._programs = settings.topic(contract.PROGRAMS.name)
        self._partitions = settings.topic_partitions
        self._max_clock_skew = timedelta(seconds=settings.max_clock_skew_seconds)
        self._updates: list[
            InstrumentUpdate | TickUpdate | ResolutionUpdate | ProgramUpdate | FirmControlUpdate
        ] = []

    async def run(self, stream: StreamT) -> None:
        """The agent."""
        await self._sequencer.run(stream, self.add, flush=self.broadcast)

    async def add(self, record: Input) -> None:
        """Validate one input and keep it for this batch."""
        if record.topic == self._instruments:
            instrument = decode(InstrumentMessage, record.value)
            require_key(record, instrument.symbol, "symbol")
            kind = self._kinds.get(instrument.symbol)
            if kind is not None and kind != instrument.kind.value:
                raise BadMessage(
                    f"instrument {instrument.symbol!r} is {kind}; its kind cannot change "
                    "(positions and prices in it would change meaning)"
                )
            self._kinds[instrument.symbol] = instrument.kind.value
            self._updates.append(
                InstrumentUpdate(
                    instrument=instrument, partition=record.partition, offset=record.offset
                )
            )
            return
        if record.topic == self._resolutions:
            self._resolve(record)
            return
        if record.topic == self._programs:
            program = decode(ProgramMessage, record.value)
            require_key(record, program.program_id, "program_id")
            self._updates.append(
                ProgramUpdate(
                    program=program,
                    partition=record.partition,
                    offset=record.offset,
                    ts=record.record_time,
                )
            )
            return
        if record.topic == self._firm_controls:
            control = decode(FirmControlRequest, record.value)
            ts = event_time(record, control.ts, self._max_clock_skew)
            self._updates.append(
                FirmControlUpdate(
                    control=control.model_copy(update={"ts": ts}),
                    partition=record.partition,
                    offset=record.offset,
                )
            )
            return
        tick = decode(TickMessage, record.value)
        require_key(record, tick.symbol, "symbol")
        kind = self._kinds.get(tick.symbol)
        if kind == Kind.PREDICTION.value:
            # A market about to resolve trades at its bounds: accepted, and nothing trades at them.
            if tick.price > 1:
                raise BadMessage(
                    f"a prediction market's YES price must be in [0, 1], got {tick.price}"
                )
            for name in ("bid", "ask"):
                value = getattr(tick, name)
                if value is not None and value >= 1:
                    raise BadMessage(
                        f"a prediction market's YES {name} must be in (0, 1), got {value}"
                    )
        elif tick.price == 0:
            raise BadMessage("price must be above 0 (0 only for a prediction market at its bound)")
        ts = event_time(record, tick.ts, self._max_clock_skew)
        self._updates.append(
            TickUpdate(
                tick=tick.model_copy(update={"ts": ts}),
                partition=record.partition,
                offset=record.offset,
            )
        )

    def _resolve(self, record: Input) -> None:
        """A prediction market's result, once: the same result again is let through (the
        partitions apply each input once), another is refused."""
        resolution = decode(ResolutionMessage, record.value)
        require_key(record, resolution.symbol, "symbol")
        if self._kinds.get(resolution.symbol) != Kind.PREDICTION.value:
            raise BadMessage(f"{resolution.symbol!r} is not a known prediction market")
        ts = event_time(record, resolution.ts, self._max_clock_skew)
        key = pair_key("resolution", resolution.symbol)
        result = resolution.model_dump(mode="json", exclude={"ts"})
        before = self._kinds.get(key)
        if before is not None and before != result:
            payout = f" at {before['yes_payout']}" if before.get("yes_payout") else ""
            raise BadMessage(
                f"{resolution.symbol!r} has already resolved {before['result']}{payout}: "
                "a resolution is final"
            )
        self._kinds[key] = result
        self._updates.append(
            ResolutionUpdate(
                resolution=resolution.model_copy(update={"ts": ts}),
                partition=record.partition,
                offset=record.offset,
            )
        )

    async def broadcast(self) -> None:
        """The batch, to every account partition."""
        if not self._updates:
            return
        now = time.time()
        for symbol in {u.tick.symbol for u in self._updates if isinstance(u, TickUpdate)}:
            metrics.LAST_TICK.labels(symbol).set(now)
        value = encode(MarketDataBatch(updates=self._updates))
        self._updates = []
        self._checkpoint.publish(
            Output(self._market_data, None, value, partition)
            for partition in range(self._partitions)
        )
