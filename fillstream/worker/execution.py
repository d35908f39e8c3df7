"""The execution agent: per account partition, orders and account registrations in, and the
market fanned out by the router; fills, order events and risk events out.

The rules are the core's (`core.engine`); this module decodes, finds the state, calls the core,
stores the state and hands the events to the publisher.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from faust.types import TP, StreamT, TopicT

from fillstream import metrics
from fillstream.core import commands, controls, engine, levels
from fillstream.core.events import AccountStatusChanged, Event, ProgramChanged
from fillstream.core.model import (
    ENGINE_ID_PREFIX,
    HUNDRED,
    Account,
    AccountLimits,
    Cancel,
    Evaluation,
    SeenOrder,
    Session,
)
from fillstream.settings import Settings
from fillstream.wire import topics as contract
from fillstream.wire.codec import decode
from fillstream.wire.inbound import (
    AccountMessage,
    ControlRequest,
    OrderCommand,
    OrderMessage,
    to_command,
    to_control,
    to_order,
    to_resolution,
)
from fillstream.wire.market_data import (
    FirmControlUpdate,
    InstrumentUpdate,
    MarketDataBatch,
    ProgramUpdate,
    ResolutionUpdate,
)
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.documents import Output, StoredAccount, dump_seen, load_seen
from fillstream.worker.inputs import Input, event_time, require_key
from fillstream.worker.partition_state import PartitionState, WorkerState, watched_symbols
from fillstream.worker.publishing import Publisher
from fillstream.worker.sequencing import Sequencer
from fillstream.worker.tables import Table, Tables, market_key, pair_key

# Records are taken in batches of up to this many, waiting at most this long for more: Faust
# hands over a batch for much less than the same records one by one, and the progress table is
# written once per batch. The wait is what batching adds at most to an order's latency.
BATCH_SIZE = 500
BATCH_WINDOW = 0.001


class Execution:
    def __init__(
        self,
        settings: Settings,
        tables: Tables,
        state: WorkerState,
        publisher: Publisher,
        checkpoint: Checkpoint,
        sequencer: Sequencer,
    ) -> None:
        self._tables = tables
        self._state = state
        self._publisher = publisher
        self._checkpoint = checkpoint
        self._sequencer = sequencer
        self._orders = settings.topic(contract.ORDERS.name)
        self._accounts = settings.topic(contract.ACCOUNTS.name)
        self._instruments = settings.topic(contract.INSTRUMENTS.name)
        self._ticks = settings.topic(contract.TICKS.name)
        self._resolutions = settings.topic(contract.RESOLUTIONS.name)
        self._controls = settings.topic(contract.CONTROLS.name)
        self._firm_controls = settings.topic(contract.FIRM_CONTROLS.name)
        self._programs = settings.topic(contract.PROGRAMS.name)
        self._defaults = AccountLimits(
            settings.default_max_leverage,
            settings.default_max_order_pct,
            settings.default_max_drawdown_pct,
        )
        self._duplicate_window = timedelta(hours=settings.duplicate_window_hours)
        self._max_clock_skew = timedelta(seconds=settings.max_clock_skew_seconds)
        self._session = Session(ZoneInfo(settings.session_timezone), settings.session_close)

    async def run(self, stream: StreamT) -> None:
        """The agent."""
        await self._sequencer.run(
            stream, self.handle, committed=self._state.committed, end_partition=self.end_partition
        )

    async def handle(self, record: Input) -> None:
        state = self._state.of(record.partition)
        try:
            self._checkpoint.publish(state.owed_before_takeover())
            if record.topic == self._orders:
                self._on_order(record, state)
            elif record.topic == self._accounts:
                self._on_account(record, state)
            elif record.topic == self._controls:
                self._on_control(record, state)
            else:
                self._on_market_data(record, state)
        except BaseException:
            state.forget_accounts()
            raise

    def end_partition(self, partition: int) -> None:
        self._state.end_batch(partition)

    def _owed(self, state: PartitionState, stored: StoredAccount) -> None:
        """Send first what the account may still owe from before a crash (`PartitionState.owed`)."""
        self._checkpoint.publish(state.owed(stored))

    def _on_order(self, record: Input, state: PartitionState) -> None:
        """A new order, or a cancel or replace of an open one."""
        message = decode(OrderCommand, record.value).root
        require_key(record, message.account_id, "account_id")
        # Without an account, an order's answer is kept in its order id's row, and a command's
        # in a row named after where it was read (not after the order it names).
        row = (
            message.order_id
            if isinstance(message, OrderMessage)
            else f"{ENGINE_ID_PREFIX}command@{record.progress_key}:{record.offset}"
        )

        def handle(account: Account | None, order_ids: _OrderIds, now: datetime) -> list[Event]:
            if isinstance(message, OrderMessage):
                return engine.submit_order(
                    account,
                    to_order(message),
                    state.market(),
                    order_ids=order_ids,
                    now=now,
                    offset=record.offset,
                    duplicate_window=self._duplicate_window,
                    session=self._session,
                )
            command = to_command(message)
            if isinstance(command, Cancel):
                return commands.cancel(account, command, order_ids, now)
            return commands.replace_order(account, command, state.market(), order_ids, now)

        self._for_account(record, state, message.account_id, row, message.ts, handle)

    def _on_control(self, record: Input, state: PartitionState) -> None:
        """An operator's control of one account: applied in the account's order, with its
        orders, and audited on ``risk-events`` either way."""
        message = decode(ControlRequest, record.value)
        require_key(record, message.account_id, "account_id")
        row = f"{ENGINE_ID_PREFIX}control@{record.progress_key}:{record.offset}"
        control = to_control(message)
        self._for_account(
            record, state, message.account_id, row, message.ts,
            lambda account, _order_ids, now: controls.apply(account, control, state.market(), now),
        )  # fmt: skip

    def _for_account(
        self,
        record: Input,
        state: PartitionState,
        account_id: str,
        row: str,
        ts: datetime | None,
        handle: Callable[[Account | None, _OrderIds, datetime], list[Event]],
    ) -> None:
        """Apply one input to its account once, and publish what it produced. An input that
        came before its account was answered then, and that answer is kept in ``row`` of the
        account's order ids: a replay after the account opens gives the same answer."""
        stored = state.stored(account_id)
        if stored is not None:
            self._owed(state, stored)
            if stored.has_applied(record.progress_key, record.offset):
                return
        order_ids = _OrderIds(self._tables.order_ids, account_id)
        rejected = order_ids.rejected_without_account(row, record.offset)
        if rejected is not None:
            self._checkpoint.publish(rejected)
            return
        account = stored.account if stored is not None else None
        watched_before = watched_symbols(account)
        now = event_time(record, ts, self._max_clock_skew)
        outputs = self._publisher.outputs(handle(account, order_ids, now))
        if stored is not None:
            state.save(stored, watched_before, {record.progress_key: record.offset}, outputs)
        else:
            order_ids.reject_without_account(row, SeenOrder(now, record.offset), outputs)
        self._checkpoint.publish(outputs)

    def _on_account(self, record: Input, state: PartitionState) -> None:
        message = decode(AccountMessage, record.value)
        require_key(record, message.account_id, "account_id")
        stored = state.stored(message.account_id)
        applied = {record.progress_key: record.offset}
        if stored is not None:
            self._owed(state, stored)
            if stored.has_applied(record.progress_key, record.offset):
                return
            stored.account.limits = self._limits(message, stored.account.limits)
            _join_program(stored.account, message)
            state.save(stored, watched_symbols(stored.account), applied, [])
            return
        defaults = self._defaults
        if message.program_id is not None:
            # A program's own loss rules replace the drawdown limit unless one is given.
            defaults = replace(defaults, max_drawdown_pct=HUNDRED)
        account = engine.open_account(
            message.account_id, message.starting_balance, self._limits(message, defaults)
        )
        _join_program(account, message)
        opened = AccountStatusChanged(account.account_id, "active", "opened", record.record_time)
        outputs = self._publisher.outputs([opened])
        state.save(StoredAccount(account), set(), applied, outputs)
        self._checkpoint.publish(outputs)

    @staticmethod
    def _limits(message: AccountMessage, current: AccountLimits) -> AccountLimits:
        """Omitted limits keep their current value (the defaults for a new account)."""
        given = {
            name: getattr(message, name)
            for name in ("max_leverage", "max_order_pct", "max_drawdown_pct")
            if getattr(message, name) is not None
        }
        return replace(current, **given)

    def _on_market_data(self, record: Input, state: PartitionState) -> None:
        """One batch of instruments and ticks from the router, applied in order.

        Every tick acts on each account whose levels it reaches (`core.levels`) exactly as
        marking every holder on every tick would: its resting orders fill or trigger, then it is
        marked. The others it would leave as they are. Prices and changed accounts are stored
        once per batch. An input the router sent again
        after a crash is applied once: the partition, and each account, keep the offsets of
        the router's inputs they have applied.
        """
        batch = decode(MarketDataBatch, record.value)
        position = state.market_position
        prices: dict[str, dict] = {}
        touched = _Touched(state, record, lambda stored: self._owed(state, stored))
        market = state.market()
        events: list[Event] = []
        ts: datetime | None = None
        for update in batch.updates:
            if isinstance(update, InstrumentUpdate):
                topic = self._instruments
            elif isinstance(update, ResolutionUpdate):
                topic = self._resolutions
            elif isinstance(update, FirmControlUpdate):
                topic = self._firm_controls
            elif isinstance(update, ProgramUpdate):
                topic = self._programs
            else:
                topic = self._ticks
            source = f"{topic}#{update.partition}"
            # Applied here already (a router batch sent again): the market keeps its newer
            # state, while each account judges by its own offsets, so an account whose last
            # outputs may be owed is still reached, and sends them.
            newer = position.get(source, -1) < update.offset
            if newer:
                position[source] = update.offset
            if isinstance(update, InstrumentUpdate):
                if newer:
                    state.set_instrument(update.instrument)
                continue
            if isinstance(update, ResolutionUpdate):
                if newer:
                    state.set_resolution(update.resolution)
                resolution, at = to_resolution(update.resolution), update.resolution.ts
                assert at is not None  # the router settles on a time
                key = market_key(resolution.symbol, state.partition)
                for account_id in sorted(state.watchers_of(key)):
                    entry = touched.of(account_id)
                    if entry.replayed or entry.stored.has_applied(source, update.offset):
                        continue
                    settled = engine.settle(entry.account, resolution, market, at)
                    entry.changed |= bool(settled)
                    events += settled
                    state.relevel(entry.account, market)
                continue
            if isinstance(update, ProgramUpdate):
                if newer:
                    state.set_program(update.program)
                    market = state.market()
                # Sent again on a replay, identical, as the kill switch's audit is.
                program = update.program
                rules = json.dumps(program.model_dump(mode="json", exclude_none=True))
                events.append(ProgramChanged(program.program_id, state.partition, rules, update.ts))
                continue
            if isinstance(update, FirmControlUpdate):
                control, at = to_control(update.control), update.control.ts
                assert at is not None  # the router settles on a time
                if newer:
                    state.set_trading(controls.firm_state_after(control.action, state.trading))
                    market = state.market()
                by = f"the firm-wide {control.action.value}"
                for account_id in sorted(state.watching_accounts()):
                    entry = touched.of(account_id)
                    if entry.replayed or entry.stored.has_applied(source, update.offset):
                        continue
                    enforced = controls.enforce(
                        entry.account, control.action, by, control.operator, market, at
                    )
                    entry.changed |= bool(enforced)
                    events += enforced
                    state.relevel(entry.account, market)
                # Sent again on a replay, identical: the audit has no account to keep it owed.
                events.append(controls.firm_applied(control, state.partition, at))
                continue
            tick = update.tick
            symbol, ts = tick.symbol, tick.ts
            key = market_key(symbol, state.partition)
            if newer:
                prices[key] = tick.model_dump(mode="json", exclude_none=True)
                state.set_price(key, tick)
            reached = state.levels().touched(symbol, levels.seen(market, symbol), ts)
            metrics.TICKS_APPLIED.inc()
            metrics.TICK_VISITS.inc(len(reached))
            for account_id in reached:
                entry = touched.of(account_id)
                if entry.replayed or entry.stored.has_applied(source, update.offset):
                    continue
                before = _footprint(entry.account)
                ticked = engine.on_tick(entry.account, symbol, market, ts)
                events += ticked
                # Most visits only share out the room again: nothing to store.
                entry.changed |= bool(ticked) or _footprint(entry.account) != before
                state.relevel(entry.account, market)
        for key, document in prices.items():
            self._tables.prices[key] = document
        if batch.updates:
            state.store_market_position()
        outputs = self._publisher.outputs(events)
        owed: dict[bytes | None, list[Output]] = {}
        for output in outputs:
            owed.setdefault(output.key, []).append(output)
        for entry in touched.entries():
            if not entry.replayed and entry.changed:
                # Every change above was followed by its account's new levels.
                state.save(
                    entry.stored,
                    entry.watched_before,
                    {record.progress_key: record.offset},
                    owed.get(entry.account.account_id.encode(), []),
                    relevel=False,
                )
        self._checkpoint.publish(outputs)


class Wake:
    """After each rebalance, an empty market-data batch to every partition this worker now
    runs: a partition's first record sends what its accounts owe from before a crash
    (`PartitionState.owed_before_takeover`), and without one a quiet partition would keep it."""

    BATCH = MarketDataBatch(updates=[]).model_dump_json().encode()

    def __init__(self, market_data: TopicT) -> None:
        self._market_data = market_data

    async def on_partitions_assigned(self, sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        name = self._market_data.get_topic_name()
        for tp in sorted(assigned):
            if tp.topic == name:
                # Queued, not awaited: the rebalance does not wait for the broker.
                self._market_data.send_soon(value=self.BATCH, partition=tp.partition)


class _OrderIds:
    """An account's used order ids, one table row each."""

    def __init__(self, table: Table, account_id: str) -> None:
        self._table = table
        self.account_id = account_id

    def get(self, order_id: str) -> SeenOrder | None:
        document = self._table.get(pair_key(self.account_id, order_id))
        return load_seen(document) if document else None

    def add(self, order_id: str, seen: SeenOrder) -> None:
        self._table[pair_key(self.account_id, order_id)] = dump_seen(seen)

    def reject_without_account(self, row: str, seen: SeenOrder, outputs: list[Output]) -> None:
        """An order (or a command) for an account that does not exist has no document to keep
        its answer in (its applied offset and its outbox); a row of its own keeps them instead
        (the order id's, or the command's position), so a replay after the account is
        registered cannot answer differently."""
        self._table[pair_key(self.account_id, row)] = [
            *dump_seen(seen),
            [output.dump() for output in outputs],
        ]

    def rejected_without_account(self, row: str, offset: int) -> list[Output] | None:
        document = self._table.get(pair_key(self.account_id, row))
        if document is None or len(document) < 3 or load_seen(document).offset != offset:
            return None
        return [Output.load(item) for item in document[2]]


def _join_program(account: Account, message: AccountMessage) -> None:
    """A program named for the first time (or another one) starts an evaluation afresh; the
    same one again only takes the account's overrides, if given."""
    if message.program_id is None:
        return
    overrides = message.program_overrides
    given = overrides.model_dump(mode="json", exclude_none=True) if overrides else None
    evaluation = account.evaluation
    if evaluation is None or evaluation.program_id != message.program_id:
        account.evaluation = Evaluation(message.program_id, given or {})
    elif given is not None:
        evaluation.overrides = given


def _footprint(account: Account) -> tuple:
    """What a tick can change in an account without an event: its high-water marks, its
    program's start, a trailing stop's trigger (a resting order is replaced, never mutated)."""
    evaluation = account.evaluation
    return (
        account.peak_equity,
        evaluation and evaluation.high_water,
        evaluation and evaluation.started,
        tuple(map(id, account.resting.values())),
    )


class _Touch:
    """An account a batch fills or marks, and what decides whether it must be stored again."""

    def __init__(self, stored: StoredAccount, record: Input) -> None:
        self.stored = stored
        self.account = stored.account
        self.replayed = stored.has_applied(record.progress_key, record.offset)
        self.watched_before = watched_symbols(self.account)
        self.changed = False


class _Touched:
    """The accounts one market-data record touches, in the order it first touched them."""

    def __init__(
        self, state: PartitionState, record: Input, on_load: Callable[[StoredAccount], None]
    ) -> None:
        self._state = state
        self._record = record
        self._on_load = on_load
        self._entries: dict[str, _Touch] = {}

    def of(self, account_id: str) -> _Touch:
        entry = self._entries.get(account_id)
        if entry is None:
            stored = self._state.stored(account_id)
            assert stored is not None, f"watched account {account_id!r} has no state"
            self._on_load(stored)
            entry = self._entries[account_id] = _Touch(stored, self._record)
        return entry

    def entries(self) -> list[_Touch]:
        return list(self._entries.values())
