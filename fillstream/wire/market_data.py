"""The internal ``market-data`` topic: the router's batches of instruments and ticks, one record
per account partition per batch, so each partition keeps its own copy of the market."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from fillstream.wire.inbound import InstrumentMessage, TickMessage


class InstrumentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instrument: InstrumentMessage


class TickUpdate(BaseModel):
    """A tick the router has validated; its ``ts`` is the event time it settled on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick: TickMessage


class MarketDataBatch(BaseModel):
    """Topic ``market-data`` (internal), no key, written to every partition: the valid inputs of
    one router batch, in the order the router read them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    updates: list[InstrumentUpdate | TickUpdate]
