"""The worker's tables, all co-partitioned with the account topics, and the shape of their keys.

Market rows are kept once per partition (key ``symbol@partition``): the router fans each tick and
instrument out to every partition, so an account's checks and marks never leave its partition.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass, fields
from typing import Any

import faust

Table = MutableMapping[str, Any]
"""What the worker needs of a table; a Faust table in a worker, a dict in unit tests."""


@dataclass(frozen=True)
class Tables:
    accounts: Table
    """account_id -> account document with its applied offsets and owed outputs
    (`documents`)."""
    instruments: Table
    """symbol@partition -> instrument."""
    prices: Table
    """symbol@partition -> last tick."""
    watchers: Table
    """[symbol@partition, account_id] for each account holding or resting on it -> true."""
    router_instruments: Table
    """symbol -> kind, for validating ticks; [resolution, symbol] -> how it resolved."""
    resolutions: Table
    """symbol@partition -> how the prediction market resolved (`ResolutionMessage`)."""
    programs: Table
    """program_id@partition -> the program's rules (`ProgramMessage`)."""
    order_ids: Table
    """[account_id, order_id] -> first use and source offset."""
    order_status: Table
    """[account_id, order_id] -> last status, reason and fills."""
    progress: Table
    """topic#partition -> next offset to process."""
    market_positions: Table
    """partition -> the router's inputs (``instruments#q``, ``ticks#q``) -> last offset applied."""
    outboxes: Table
    """partition -> the accounts whose outboxes hold the outputs of its last checkpoint: the
    ones a worker taking the partition over may owe, without reading every account."""
    trading: Table
    """partition -> the firm-wide trading state, as the partition applied the kill switch."""

    @classmethod
    def declare(cls, app: faust.App) -> Tables:
        """The changelog topics are named after these table names: renaming one loses state."""
        names = {
            "accounts": "account-state",
            "instruments": "instruments",
            "prices": "prices",
            "watchers": "watchers",
            "router_instruments": "router-instruments",
            "resolutions": "resolutions",
            "programs": "programs",
            "order_ids": "order-ids",
            "order_status": "order-status",
            "progress": "progress",
            "market_positions": "market-positions",
            "outboxes": "outboxes",
            "trading": "trading",
        }
        return cls(
            **{
                field.name: app.Table(names[field.name], default=None, help=field.name)
                for field in fields(cls)
            }
        )

    @classmethod
    def in_memory(cls) -> Tables:
        return cls(**{field.name: {} for field in fields(cls)})


def market_key(symbol: str, partition: int) -> str:
    return f"{symbol}@{partition}"


def partition_of_market(key: str) -> int:
    return int(key.rpartition("@")[2])


def pair_key(first: str, second: str) -> str:
    """A key of two ids that no two different pairs share, whatever characters the ids hold
    (a plain separator would let ``a/b`` + ``c`` meet ``a`` + ``b/c``)."""
    return json.dumps([first, second], ensure_ascii=False, separators=(",", ":"))


def split_pair_key(key: str) -> tuple[str, str]:
    first, second = json.loads(key)
    return first, second
