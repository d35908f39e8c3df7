"""The worker's topics, declared on its app: all an account touches is keyed by account_id,
market data by symbol (the contract, with compaction and models, is `wire.topics`)."""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TopicT

from fillstream.settings import Settings
from fillstream.wire import topics as contract


@dataclass(frozen=True)
class Topics:
    instruments: TopicT
    ticks: TopicT
    orders: TopicT
    accounts: TopicT
    controls: TopicT
    firm_controls: TopicT
    market_data: TopicT
    dead_letters: TopicT
    account_inputs: TopicT
    """The execution agent's one subscription: orders, accounts, controls and market data are
    co-partitioned, so partition p of each is one unit of work."""
    symbol_inputs: TopicT
    """The router's: instruments, ticks and resolutions, all keyed by symbol, programs (by
    program_id) and firm-wide controls (one partition carries them all)."""

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> Topics:
        def name(topic: contract.TopicContract) -> str:
            return settings.topic(topic.name)

        return cls(
            instruments=app.topic(name(contract.INSTRUMENTS)),
            ticks=app.topic(name(contract.TICKS)),
            orders=app.topic(name(contract.ORDERS)),
            accounts=app.topic(name(contract.ACCOUNTS)),
            controls=app.topic(name(contract.CONTROLS)),
            firm_controls=app.topic(name(contract.FIRM_CONTROLS)),
            market_data=app.topic(name(contract.MARKET_DATA)),
            dead_letters=app.topic(name(contract.DEAD_LETTERS)),
            account_inputs=app.topic(
                name(contract.ORDERS),
                name(contract.ACCOUNTS),
                name(contract.CONTROLS),
                name(contract.MARKET_DATA),
            ),
            symbol_inputs=app.topic(
                name(contract.INSTRUMENTS),
                name(contract.TICKS),
                name(contract.RESOLUTIONS),
                name(contract.PROGRAMS),
                name(contract.FIRM_CONTROLS),
            ),
        )
