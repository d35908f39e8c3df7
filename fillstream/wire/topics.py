"""Every topic of the contract, once: its setting name, cleanup policy and message model.

Topic creation, the worker's topic declarations, the sink's subscriptions and the JSON Schema
export all read this list; ``Settings.topic`` turns a name into the configured topic name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fillstream.wire.inbound import (
    AccountMessage,
    ControlRequest,
    FirmControlRequest,
    InstrumentMessage,
    OrderCommand,
    ResolutionMessage,
    TickMessage,
)
from fillstream.wire.market_data import MarketDataBatch
from fillstream.wire.outbound import (
    DeadLetterMessage,
    FillMessage,
    OrderEventMessage,
    RiskEventMessage,
)
from fillstream.wire.programs import ProgramMessage


@dataclass(frozen=True)
class TopicContract:
    name: str
    """The settings name: ``Settings.topic(name)`` gives the topic's configured name."""
    model: Any
    key: str | None = None
    """The field whose value keys every message (inbound: the worker refuses other keys)."""
    inbound: bool = False
    compacted: bool = False
    internal: bool = False


INSTRUMENTS = TopicContract(
    "instruments", InstrumentMessage, "symbol", inbound=True, compacted=True
)
ACCOUNTS = TopicContract("accounts", AccountMessage, "account_id", inbound=True, compacted=True)
TICKS = TopicContract("ticks", TickMessage, "symbol", inbound=True)
ORDERS = TopicContract("orders", OrderCommand, "account_id", inbound=True)
RESOLUTIONS = TopicContract(
    "resolutions", ResolutionMessage, "symbol", inbound=True, compacted=True
)
PROGRAMS = TopicContract("programs", ProgramMessage, "program_id", inbound=True, compacted=True)
CONTROLS = TopicContract("controls", ControlRequest, "account_id", inbound=True)
FIRM_CONTROLS = TopicContract("firm_controls", FirmControlRequest, inbound=True)
MARKET_DATA = TopicContract("market_data", MarketDataBatch, internal=True)
FILLS = TopicContract("fills", FillMessage, "account_id")
ORDER_EVENTS = TopicContract("order_events", OrderEventMessage, "account_id")
RISK_EVENTS = TopicContract("risk_events", RiskEventMessage, "account_id")
DEAD_LETTERS = TopicContract("dead_letters", DeadLetterMessage)

CONTRACT = (
    INSTRUMENTS, ACCOUNTS, TICKS, ORDERS, RESOLUTIONS, PROGRAMS, CONTROLS, FIRM_CONTROLS,
    MARKET_DATA, FILLS, ORDER_EVENTS, RISK_EVENTS, DEAD_LETTERS,
)  # fmt: skip
