"""The internal ``market-data`` topic: the router's batches of instruments, ticks, resolutions
and firm-wide controls, one record per account partition per batch, so each partition keeps its
own copy of the market (and of the firm's trading state)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fillstream.wire.inbound import (
    FirmControlRequest,
    InstrumentMessage,
    ResolutionMessage,
    TickMessage,
)
from fillstream.wire.programs import ProgramMessage
from fillstream.wire.types import Timestamp


class InstrumentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instrument: InstrumentMessage
    partition: int = Field(ge=0, description="Where the router read it in `instruments`.")
    offset: int = Field(ge=0)


class TickUpdate(BaseModel):
    """A tick the router has validated; its ``ts`` is the event time it settled on. With its
    source coordinates, so a tick the router sends again after a crash is applied once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick: TickMessage
    partition: int = Field(ge=0, description="Where the router read it in `ticks`.")
    offset: int = Field(ge=0)


class ResolutionUpdate(BaseModel):
    """A resolution the router has validated; its ``ts`` is the event time it settled on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: ResolutionMessage
    partition: int = Field(ge=0, description="Where the router read it in `resolutions`.")
    offset: int = Field(ge=0)


class ProgramUpdate(BaseModel):
    """A program's rule set, as the router read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    program: ProgramMessage
    partition: int = Field(ge=0, description="Where the router read it in `programs`.")
    offset: int = Field(ge=0)
    ts: Timestamp = Field(description="The program record's time: when the change applies.")


class FirmControlUpdate(BaseModel):
    """A firm-wide control (the kill switch), with the event time the router settled on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    control: FirmControlRequest
    partition: int = Field(ge=0, description="Where the router read it in `firm-controls`.")
    offset: int = Field(ge=0)


class MarketDataBatch(BaseModel):
    """Topic ``market-data`` (internal), no key, written to every partition: the valid inputs of
    one router batch, in the order the router read them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    updates: list[
        InstrumentUpdate | TickUpdate | ResolutionUpdate | ProgramUpdate | FirmControlUpdate
    ]
