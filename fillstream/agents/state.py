"""The execution agent's state: its tables, with decoded copies and an index kept in memory.

A batch of ticks marks every account holding its symbols, each at all its positions; reading
and decoding those from the tables dominated its cost. The tables stay the truth: the copies are
dropped when partitions move (another worker may have changed them) and, for accounts, when a
record fails part way (its changes were not stored).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from faust.types import TableT as Table

from fillstream.app import app
from fillstream.core import engine
from fillstream.core.model import Account, Instrument, split_position_key
from fillstream.schemas.inbound import InstrumentMessage, to_instrument
from fillstream.tables import tables
from fillstream.tables.account_state import dump_account, load_account
from fillstream.tables.tables import market_key, pair_key, split_pair_key

T = TypeVar("T")

_accounts: dict[str, Account] = {}
_instruments: dict[str, Instrument] = {}
_last_prices: dict[str, Decimal] = {}


@app.on_partitions_revoked.connect
async def _forget_all(sender: object, revoked: object, **kwargs: object) -> None:
    _accounts.clear()
    _instruments.clear()
    _last_prices.clear()
    watchers.forget()


def _decoded(cache: dict[str, T], table: Table, key: str, decode: Callable[[Any], T]) -> T | None:
    """The decoded value for `key`, decoding the table's document the first time it is asked."""
    value = cache.get(key)
    if value is None:
        document = table.get(key)
        if document is None:
            return None
        value = cache[key] = decode(document)
    return value


def forget_accounts() -> None:
    """After a record failed part way: its changes to decoded accounts were not stored."""
    _accounts.clear()


def load(account_id: str) -> Account | None:
    return _decoded(_accounts, tables.accounts, account_id, load_account)


def watched_symbols(account: Account | None) -> set[str]:
    if account is None:
        return set()
    held = {split_position_key(key)[0] for key in account.positions}
    return held | {resting.order.symbol for resting in account.resting.values()}


def save(account: Account, watched_before: set[str], partition: int) -> None:
    """Store the account and keep the index of who to mark on a tick in step with it."""
    tables.accounts[account.account_id] = dump_account(account)
    _accounts[account.account_id] = account
    watched_after = watched_symbols(account)
    for symbol in watched_after - watched_before:
        watchers.add(market_key(symbol, partition), account.account_id)
    for symbol in watched_before - watched_after:
        watchers.remove(market_key(symbol, partition), account.account_id)


def set_instrument(key: str, document: dict, instrument: Instrument) -> None:
    tables.instruments[key] = document
    _instruments[key] = instrument


def set_price(key: str, price: Decimal) -> None:
    """The latest price, for the rules at once; the prices table is written once per batch."""
    _last_prices[key] = price


def market_for(partition: int) -> engine.Market:
    """What the rules may know of the market, as the given partition has seen it."""

    def instrument(symbol: str) -> Instrument | None:
        key = market_key(symbol, partition)
        return _decoded(_instruments, tables.instruments, key, _to_instrument)

    def last_price(symbol: str) -> Decimal | None:
        key = market_key(symbol, partition)
        return _decoded(_last_prices, tables.prices, key, lambda tick: Decimal(tick["price"]))

    return engine.Market(instrument, last_price)


def _to_instrument(document: dict) -> Instrument:
    return to_instrument(InstrumentMessage.model_validate(document))


class WatcherIndex:
    """Who to mark on a tick: accounts by the market keys they hold or rest on.

    The table keeps one row per (market key, account), so an account joining a symbol writes a
    few bytes rather than the whole list of its holders again (quadratic with many accounts).
    Listing a symbol's accounts needs them by market key, so they are indexed in memory from a
    scan of the table the first time they are asked for after partitions move.
    """

    def __init__(self) -> None:
        self._by_market: dict[str, set[str]] | None = None

    def of(self, market: str) -> set[str]:
        return self._index().get(market, set())

    def add(self, market: str, account_id: str) -> None:
        tables.watchers[pair_key(market, account_id)] = True
        self._index().setdefault(market, set()).add(account_id)

    def remove(self, market: str, account_id: str) -> None:
        tables.watchers.pop(pair_key(market, account_id), None)
        self._index().get(market, set()).discard(account_id)

    def forget(self) -> None:
        self._by_market = None

    def _index(self) -> dict[str, set[str]]:
        if self._by_market is None:
            self._by_market = {}
            for row in tables.watchers:
                market, account_id = split_pair_key(row)
                self._by_market.setdefault(market, set()).add(account_id)
        return self._by_market


watchers = WatcherIndex()
