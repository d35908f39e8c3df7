"""What a worker keeps in memory beside its tables: one object per account partition.

A tick acts on the accounts whose levels it reaches, each valued at all its positions; reading
and decoding those from the tables dominated its cost. So each partition keeps decoded accounts,
instruments and prices, the index of who holds or rests on each symbol, the level index of what
a tick can change (`core.levels`), and how far it has applied the router's inputs. The tables
stay the truth: every partition's state is dropped when partitions move (another worker may have
changed the tables) and rebuilt from the tables as it is used; a record that fails part way drops
its partition's decoded accounts and levels (its changes were not stored).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from fillstream.core.levels import LevelIndex, levels, watched
from fillstream.core.model import (
    Account,
    Instrument,
    Market,
    Program,
    Quote,
    Resolution,
    TradingState,
)
from fillstream.wire.inbound import (
    InstrumentMessage,
    ResolutionMessage,
    TickMessage,
    to_instrument,
    to_resolution,
)
from fillstream.wire.programs import ProgramMessage, to_program
from fillstream.worker.documents import Output, StoredAccount, dump_stored, load_stored
from fillstream.worker.tables import (
    Table,
    Tables,
    market_key,
    pair_key,
    partition_of_market,
    split_pair_key,
)

T = TypeVar("T")


class PartitionState:
    def __init__(
        self,
        partition: int,
        tables: Tables,
        changed: set[str],
        outboxed: set[str],
        unwritten: dict[str, dict[str, Any]],
    ) -> None:
        self.partition = partition
        self._tables = tables
        self._accounts: dict[str, StoredAccount] = {}
        self._instruments: dict[str, Instrument] = {}
        self._prices: dict[str, tuple[Decimal, Quote | None]] = {}
        self._resolutions: dict[str, Resolution] = {}
        self._watchers: dict[str, set[str]] | None = None
        self._market_position: dict[str, int] | None = None
        self._trading: TradingState | None = None
        self._programs: dict[tuple[str, str], Program] = {}
        """(program_id@partition, the account's overrides) -> the rules, decoded."""
        self._changed = changed
        """Accounts whose outbox this batch has started (owned by `WorkerState`, which keeps
        it across a rebalance: the batch's outputs are still to be delivered)."""
        self._touched: set[str] = set()
        self._outboxed = outboxed
        """Accounts of this partition whose outbox this checkpoint fills (owned by
        `WorkerState`, which indexes them at the end of the batch, rebalance or not)."""
        self._unwritten = unwritten
        """Account documents changed in this batch, written to the table (and its changelog)
        once each as the batch ends (owned by `WorkerState`, which writes them rebalance or
        not: the batch's outputs come from them)."""
        self._swept = False
        self._levels: LevelIndex | None = None

    def stored(self, account_id: str) -> StoredAccount | None:
        stored = self._accounts.get(account_id)
        if stored is None:
            document = self._unwritten.get(account_id) or self._tables.accounts.get(account_id)
            if document is None:
                return None
            stored = self._accounts[account_id] = load_stored(document)
        return stored

    def load(self, account_id: str) -> Account | None:
        stored = self.stored(account_id)
        return stored.account if stored is not None else None

    def forget_accounts(self) -> None:
        """After a record failed part way: its changes to decoded accounts were not stored."""
        self._accounts.clear()
        self._levels = None

    def levels(self) -> LevelIndex:
        """Which accounts a tick acts on: built from every watching account the first time it
        is asked for, then kept in step by `relevel`."""
        if self._levels is None:
            index, market = LevelIndex(), self.market()
            for account_id in sorted(self.watching_accounts()):
                account = self.load(account_id)
                if account is not None:
                    index.set(account_id, levels(account, market))
            self._levels = index
        return self._levels

    def relevel(self, account: Account, market: Market | None = None) -> None:
        """After any change to the account (before the next tick looks at it); ``market`` is
        the caller's view of it, where it has one (a tick's visits each need it)."""
        if self._levels is not None:
            self._levels.set(account.account_id, levels(account, market or self.market()))

    def save(
        self,
        stored: StoredAccount,
        watched_before: set[str],
        applied: dict[str, int],
        outputs: list[Output],
        relevel: bool = True,
    ) -> None:
        """Store the account with the record it has now applied (and the router's inputs the
        partition has applied) and the outputs its changes in this batch owe; keep the index
        of who a tick acts on in step with it (``relevel``, unless the caller did so after its
        last change)."""
        account = stored.account
        if account.account_id not in self._changed:
            stored.outbox = []
            stored.owed_for = {}
            self._changed.add(account.account_id)
        stored.outbox.extend(outputs)
        if stored.outbox:
            self._outboxed.add(account.account_id)
        stored.owed_for.update(applied)
        stored.applied.update(self.market_position)
        stored.applied.update(applied)
        # A snapshot now: a later record that fails part way must not reach what is written.
        self._unwritten[account.account_id] = dump_stored(stored)
        self._accounts[account.account_id] = stored
        watched_after = watched_symbols(account)
        for symbol in watched_after - watched_before:
            self._watch(market_key(symbol, self.partition), account.account_id)
        for symbol in watched_before - watched_after:
            self._unwatch(market_key(symbol, self.partition), account.account_id)
        if relevel:
            self.relevel(account)

    def owed(self, stored: StoredAccount) -> list[Output]:
        """What an account may still owe when this worker first touches it: the outputs of its
        last batch, unless the progress of every record they came from is stored (progress is
        written only once a batch's outputs are delivered).

        A crash can leave them undelivered, and a worker restarted on its own disk can even
        hold a document Kafka never acknowledged; so the document is written again (the
        checkpoint waits for it) before its outputs leave again, identical, and they stay owed
        until this batch's checkpoint delivers them."""
        account_id = stored.account.account_id
        if account_id in self._touched:
            return []
        self._touched.add(account_id)
        if not stored.outbox or all(
            (self._tables.progress.get(source) or 0) > offset
            for source, offset in stored.owed_for.items()
        ):
            return []
        self._changed.add(account_id)
        self._outboxed.add(account_id)
        self._unwritten[account_id] = dump_stored(stored)
        return list(stored.outbox)

    def owed_before_takeover(self) -> list[Output]:
        """What the partition's accounts may owe from the worker that had it before, the first
        time this worker handles a record of it: an account no input reaches again must not
        keep them. The partition's outbox index names the accounts its last checkpoint changed
        (those of earlier checkpoints were delivered)."""
        if self._swept:
            return []
        self._swept = True
        outputs: list[Output] = []
        for account_id in self._tables.outboxes.get(str(self.partition)) or []:
            stored = self.stored(account_id)
            if stored is not None:
                outputs += self.owed(stored)
        return outputs

    @property
    def market_position(self) -> dict[str, int]:
        """The router's inputs (``instruments#q``, ``ticks#q``) -> last offset applied here."""
        if self._market_position is None:
            stored = self._tables.market_positions.get(str(self.partition))
            self._market_position = dict(stored or {})
        return self._market_position

    def store_market_position(self) -> None:
        self._tables.market_positions[str(self.partition)] = dict(self.market_position)

    def set_instrument(self, message: InstrumentMessage) -> None:
        key = market_key(message.symbol, self.partition)
        self._tables.instruments[key] = message.model_dump(mode="json")
        self._instruments[key] = to_instrument(message)
        self._levels = None

    def set_program(self, message: ProgramMessage) -> None:
        key = market_key(message.program_id, self.partition)
        self._tables.programs[key] = message.model_dump(mode="json", exclude_none=True)
        self._programs = {k: v for k, v in self._programs.items() if k[0] != key}
        self._levels = None

    def set_resolution(self, message: ResolutionMessage) -> None:
        key = market_key(message.symbol, self.partition)
        self._tables.resolutions[key] = message.model_dump(mode="json")
        self._resolutions[key] = to_resolution(message)

    @property
    def trading(self) -> TradingState:
        """The firm-wide trading state, as this partition has applied the kill switch."""
        if self._trading is None:
            stored = self._tables.trading.get(str(self.partition))
            self._trading = TradingState(stored or TradingState.ACTIVE)
        return self._trading

    def set_trading(self, state: TradingState) -> None:
        self._tables.trading[str(self.partition)] = state.value
        self._trading = state

    def set_price(self, key: str, tick: TickMessage) -> None:
        """The latest tick, for the rules at once; the prices table is written once per batch."""
        self._prices[key] = (tick.price, tick.quote())

    def market(self) -> Market:
        """What the rules may know of the market, as this partition has seen it."""

        def instrument(symbol: str) -> Instrument | None:
            key = market_key(symbol, self.partition)
            return _decoded(self._instruments, self._tables.instruments, key, _to_instrument)

        def tick(symbol: str) -> tuple[Decimal, Quote | None] | None:
            key = market_key(symbol, self.partition)
            return _decoded(self._prices, self._tables.prices, key, _to_tick)

        def last_price(symbol: str) -> Decimal | None:
            latest = tick(symbol)
            return latest[0] if latest else None

        def quote(symbol: str) -> Quote | None:
            latest = tick(symbol)
            return latest[1] if latest else None

        def resolution(symbol: str) -> Resolution | None:
            key = market_key(symbol, self.partition)
            return _decoded(self._resolutions, self._tables.resolutions, key, _to_resolution)

        def program(account: Account) -> Program | None:
            evaluation = account.evaluation
            if evaluation is None:
                return None
            key = market_key(evaluation.program_id, self.partition)
            overrides = json.dumps(evaluation.overrides, sort_keys=True)
            rules = self._programs.get((key, overrides))
            if rules is None:
                document = self._tables.programs.get(key)
                if document is None:
                    return None
                message = ProgramMessage.model_validate(document)
                rules = self._programs[(key, overrides)] = to_program(message, evaluation.overrides)
            return rules

        return Market(instrument, last_price, quote, resolution, self.trading, program)

    def watchers_of(self, key: str) -> set[str]:
        """The accounts holding or resting on a market key, by an index kept in memory.

        The table keeps one row per (market key, account), so an account joining a symbol
        writes a few bytes rather than the whole list of its holders again (quadratic with many
        accounts). Listing a symbol's accounts needs them by market key, so they are indexed
        from a scan of the table the first time they are asked for.
        """
        return self._index().get(key, set())

    def watching_accounts(self) -> set[str]:
        """Every account of the partition holding or resting on anything."""
        return set().union(*self._index().values())

    def _watch(self, key: str, account_id: str) -> None:
        self._tables.watchers[pair_key(key, account_id)] = True
        self._index().setdefault(key, set()).add(account_id)

    def _unwatch(self, key: str, account_id: str) -> None:
        self._tables.watchers.pop(pair_key(key, account_id), None)
        self._index().get(key, set()).discard(account_id)

    def _index(self) -> dict[str, set[str]]:
        if self._watchers is None:
            self._watchers = {}
            for row in self._tables.watchers:
                key, account_id = split_pair_key(row)
                if partition_of_market(key) == self.partition:
                    self._watchers.setdefault(key, set()).add(account_id)
        return self._watchers


class WorkerState:
    """The one owner of in-memory state: a `PartitionState` per account partition, all
    dropped through one hook when partitions move."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._partitions: dict[int, PartitionState] = {}
        self._changed: set[str] = set()
        self._outboxed: dict[int, set[str]] = {}
        self._unwritten: dict[int, dict[str, dict[str, Any]]] = {}

    def of(self, partition: int) -> PartitionState:
        state = self._partitions.get(partition)
        if state is None:
            state = self._partitions[partition] = PartitionState(
                partition,
                self._tables,
                self._changed,
                self._outboxed.setdefault(partition, set()),
                self._unwritten.setdefault(partition, {}),
            )
        return state

    async def on_partitions_revoked(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        self._partitions.clear()

    def end_batch(self, partition: int) -> None:
        """Before the checkpoint, with the partition's changelog: write each account the batch
        changed, once however often it changed (one changelog record per account per batch),
        and index those whose outboxes it fills (durable with them). A partition the checkpoint
        leaves alone keeps its index, whose outputs the stored progress shows delivered."""
        unwritten = self._unwritten.get(partition)
        if unwritten:
            for account_id, document in unwritten.items():
                self._tables.accounts[account_id] = document
            unwritten.clear()
        outboxed = self._outboxed.get(partition)
        if outboxed:
            self._tables.outboxes[str(partition)] = sorted(outboxed)
            outboxed.clear()

    def committed(self) -> None:
        """The batch's outputs are delivered: the next change of an account owes afresh."""
        self._changed.clear()


def watched_symbols(account: Account | None) -> set[str]:
    return watched(account) if account is not None else set()


def _to_resolution(document: dict[str, Any]) -> Resolution:
    return to_resolution(ResolutionMessage.model_validate(document))


def _to_tick(document: dict[str, Any]) -> tuple[Decimal, Quote | None]:
    """A stored tick (`TickMessage` as JSON) as the rules see it."""
    tick = TickMessage.model_validate(document)
    return tick.price, tick.quote()


def _decoded(cache: dict[str, T], table: Table, key: str, decode: Callable[[Any], T]) -> T | None:
    """The decoded value for `key`, decoding the table's document the first time it is asked."""
    value = cache.get(key)
    if value is None:
        document = table.get(key)
        if document is None:
            return None
        value = cache[key] = decode(document)
    return value


def _to_instrument(document: dict) -> Instrument:
    return to_instrument(InstrumentMessage.model_validate(document))
