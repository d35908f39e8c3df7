"""Routes instruments and ticks (keyed by symbol) to every account partition.

Each account partition keeps its own copy of the market, so checks, resting-limit fills and marks
run beside the account state, in the order the partition sees them, with no cross-partition reads.
"""

from __future__ import annotations

import json

from fillstream import metrics
from fillstream.agents import sequencing
from fillstream.agents.guard import require_key
from fillstream.agents.record import Record
from fillstream.app import app, settings
from fillstream.core.model import Kind
from fillstream.schemas.inbound import InstrumentMessage, TickMessage
from fillstream.streams import topics
from fillstream.streams.codec import BadMessage, decode
from fillstream.tables import tables


@app.agent(topics.symbol_inputs)
async def route_market_data(stream) -> None:
    await sequencing.process_in_order(stream, _route, agent="route_market_data")


async def _route(record: Record) -> None:
    if record.topic == topics.instruments.get_topic_name():
        instrument = decode(InstrumentMessage, record.value)
        require_key(record, instrument.symbol, "symbol")
        tables.router_instruments[instrument.symbol] = instrument.kind.value
        await _broadcast(instrument.symbol, {"instrument": instrument.model_dump(mode="json")})
        return
    tick = decode(TickMessage, record.value)
    require_key(record, tick.symbol, "symbol")
    if tables.router_instruments.get(tick.symbol) == Kind.PREDICTION.value and tick.price >= 1:
        raise BadMessage(f"a prediction market's YES price must be in (0, 1), got {tick.price}")
    await _broadcast(tick.symbol, {"tick": tick.model_dump(mode="json")})


async def _broadcast(symbol: str, payload: dict) -> None:
    value = json.dumps(payload).encode()
    for partition in range(settings.topic_partitions):
        await topics.market_data.send(key=symbol.encode(), value=value, partition=partition)
    metrics.MESSAGES_OUT.labels(topics.market_data.get_topic_name()).inc(settings.topic_partitions)
