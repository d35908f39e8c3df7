"""Routes instruments and ticks (keyed by symbol) to every account partition, in batches.

Each account partition keeps its own copy of the market, so checks, resting-limit fills and marks
run beside the account state, in the order the partition sees them, with no cross-partition reads.
"""

from __future__ import annotations

import json
from datetime import timedelta

from fillstream import metrics
from fillstream.agents import sequencing
from fillstream.agents.guard import event_time, require_key
from fillstream.agents.record import Record
from fillstream.app import app, settings
from fillstream.core.model import Kind
from fillstream.schemas.inbound import InstrumentMessage, TickMessage
from fillstream.streams import topics
from fillstream.streams.codec import BadMessage, decode
from fillstream.tables import tables

MAX_CLOCK_SKEW = timedelta(seconds=settings.max_clock_skew_seconds)
# A batch closes at this many inputs or after this long, whichever comes first. The fan-out then
# costs one record per partition per batch instead of one per tick; the wait is what batching
# adds at most to a tick's way to the accounts.
BATCH_SIZE = 2000
BATCH_WINDOW = 0.02


@app.agent(topics.symbol_inputs)
async def route_market_data(stream) -> None:
    batch = _MarketBatch()
    await sequencing.process_in_order(
        stream, batch.add, "route_market_data", BATCH_SIZE, BATCH_WINDOW, flush=batch.broadcast
    )


class _MarketBatch:
    """The valid instruments and ticks of one batch, in order, to copy to every partition."""

    def __init__(self) -> None:
        self.updates: list[dict] = []

    async def add(self, record: Record) -> None:
        if record.topic == topics.instruments.get_topic_name():
            instrument = decode(InstrumentMessage, record.value)
            require_key(record, instrument.symbol, "symbol")
            kind = tables.router_instruments.get(instrument.symbol)
            if kind is not None and kind != instrument.kind.value:
                raise BadMessage(
                    f"instrument {instrument.symbol!r} is {kind}; its kind cannot change "
                    "(positions and prices in it would change meaning)"
                )
            tables.router_instruments[instrument.symbol] = instrument.kind.value
            self.updates.append({"instrument": instrument.model_dump(mode="json")})
            return
        tick = decode(TickMessage, record.value)
        require_key(record, tick.symbol, "symbol")
        kind = tables.router_instruments.get(tick.symbol)
        if kind == Kind.PREDICTION.value and tick.price >= 1:
            raise BadMessage(f"a prediction market's YES price must be in (0, 1), got {tick.price}")
        ts = event_time(record, tick.ts, MAX_CLOCK_SKEW)
        self.updates.append({"tick": tick.model_copy(update={"ts": ts}).model_dump(mode="json")})

    async def broadcast(self) -> None:
        if not self.updates:
            return
        value = json.dumps({"updates": self.updates}).encode()
        self.updates = []
        for partition in range(settings.topic_partitions):
            await topics.market_data.send(key=None, value=value, partition=partition)
        metrics.MESSAGES_OUT.labels(topics.market_data.get_topic_name()).inc(
            settings.topic_partitions
        )
