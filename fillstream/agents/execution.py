"""The execution agent: per account partition, orders and account registrations in, and the
market fanned out by the router; fills, order events and risk events out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from fillstream import metrics
from fillstream.agents import sequencing, state
from fillstream.agents.guard import event_time, record_time, require_key
from fillstream.agents.record import Record
from fillstream.app import app, settings
from fillstream.core import engine
from fillstream.core.events import AccountStatusChanged, Event, Fill, OrderEvent, OrderStatus
from fillstream.core.model import Account, AccountLimits, Reason, SeenOrder
from fillstream.schemas.inbound import (
    AccountMessage,
    InstrumentMessage,
    OrderMessage,
    to_instrument,
    to_order,
)
from fillstream.schemas.outbound import (
    AccountStatusMessage,
    DrawdownViolationMessage,
    FillMessage,
    OrderEventMessage,
)
from fillstream.streams import topics
from fillstream.streams.codec import decode, encode
from fillstream.tables import tables
from fillstream.tables.account_state import dump_seen, load_seen
from fillstream.tables.tables import market_key, pair_key

DUPLICATE_WINDOW = timedelta(hours=settings.duplicate_window_hours)
MAX_CLOCK_SKEW = timedelta(seconds=settings.max_clock_skew_seconds)


# Records are taken in batches of up to this many, waiting at most this long for more: Faust
# hands over a batch for much less than the same records one by one, and the progress table is
# written once per batch. The wait is what batching adds at most to an order's latency.
BATCH_SIZE = 500
BATCH_WINDOW = 0.001


@app.agent(topics.account_inputs)
async def execute(stream) -> None:
    await sequencing.process_in_order(stream, _handle, "execute", BATCH_SIZE, BATCH_WINDOW)


async def _handle(record: Record) -> None:
    topic = record.topic
    try:
        if topic == topics.orders.get_topic_name():
            events = _on_order(record)
        elif topic == topics.accounts.get_topic_name():
            events = _on_account(record)
        else:
            events = _on_market_data(record)
    except BaseException:
        state.forget_accounts()
        raise
    statuses: dict[str, dict] = {}
    for outcome in events:
        await _publish(outcome, statuses)
    for key, status in statuses.items():
        tables.order_status[key] = status


def _on_order(record: Record) -> list[Event]:
    message = decode(OrderMessage, record.value)
    require_key(record, message.account_id, "account_id")
    order = to_order(message)
    account = state.load(message.account_id)
    offset = record.offset
    order_ids = _OrderIds(message.account_id)
    if engine.is_replay(order_ids, order, offset):
        return []
    watched_before = state.watched_symbols(account)
    events = engine.submit_order(
        account,
        order,
        state.market_for(record.partition),
        order_ids=order_ids,
        now=event_time(record, message.ts, MAX_CLOCK_SKEW),
        offset=offset,
        duplicate_window=DUPLICATE_WINDOW,
    )
    if account is not None:
        state.save(account, watched_before, record.partition)
    return events


class _OrderIds:
    """An account's used order ids, one table row each."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    def get(self, order_id: str) -> SeenOrder | None:
        document = tables.order_ids.get(pair_key(self.account_id, order_id))
        return load_seen(document) if document else None

    def add(self, order_id: str, seen: SeenOrder) -> None:
        tables.order_ids[pair_key(self.account_id, order_id)] = dump_seen(seen)


def _on_account(record: Record) -> list[Event]:
    message = decode(AccountMessage, record.value)
    require_key(record, message.account_id, "account_id")
    existing = state.load(message.account_id)
    if existing is not None:
        existing.limits = _limits(message, existing.limits)
        state.save(existing, state.watched_symbols(existing), record.partition)
        return []
    account = engine.open_account(
        message.account_id, message.starting_balance, _limits(message, None)
    )
    state.save(account, set(), record.partition)
    return [AccountStatusChanged(account.account_id, "active", "opened", record_time(record))]


def _limits(message: AccountMessage, current: AccountLimits | None) -> AccountLimits:
    """Omitted limits keep their current value, or take the default from settings."""
    defaults = current or AccountLimits(
        settings.default_max_leverage,
        settings.default_max_order_pct,
        settings.default_max_drawdown_pct,
    )
    given = {
        name: getattr(message, name)
        for name in ("max_leverage", "max_order_pct", "max_drawdown_pct")
        if getattr(message, name) is not None
    }
    return replace(defaults, **given)


def _on_market_data(record: Record) -> list[Event]:
    """One batch of instruments and ticks from the router, applied in order.

    Resting limits fill on the first tick that trades through them. Marks are conflated in
    event time: once MARK_INTERVAL of tick time has passed since the partition's last marks, every
    account holding or resting on a symbol that ticked since then is marked once, at the latest
    prices. Marking every holder on every tick cost accounts x ticks. Prices and changed accounts
    are stored once per batch.
    """
    partition = record.partition
    prices: dict[str, dict] = {}
    touched: dict[str, _Touched] = {}
    resting_on: dict[str, list[_Touched]] = {}
    market = state.market_for(partition)
    events: list[Event] = []
    unmarked = _unmarked.setdefault(partition, set())
    ts = None
    for update in json.loads(record.value, parse_float=Decimal)["updates"]:
        if "instrument" in update:
            instrument = InstrumentMessage.model_validate(update["instrument"])
            key = market_key(instrument.symbol, partition)
            state.set_instrument(key, update["instrument"], to_instrument(instrument))
            continue
        # The router validated this tick before fanning it out; only its symbol and time are needed.
        tick = update["tick"]
        symbol, ts = tick["symbol"], datetime.fromisoformat(tick["ts"].replace("Z", "+00:00"))
        key = market_key(symbol, partition)
        prices[key] = tick
        state.set_price(key, Decimal(tick["price"]))
        unmarked.add(key)
        if key not in resting_on:
            resting_on[key] = [
                _touch(touched, account_id)
                for account_id in sorted(state.watchers.of(key))
                if _rests_on(state.load(account_id), symbol)
            ]
        for entry in resting_on[key]:
            filled = engine.fill_resting(entry.account, symbol, market, ts)
            entry.changed |= bool(filled)
            events += filled
    for key, tick in prices.items():
        tables.prices[key] = tick
    last_marks = _last_marks.get(partition)
    if ts is not None and (
        last_marks is None or ts - last_marks >= MARK_INTERVAL or ts < last_marks
    ):
        for key in sorted(unmarked):
            for account_id in sorted(state.watchers.of(key)):
                _touch(touched, account_id).mark = True
        unmarked.clear()
        _last_marks[partition] = ts
    for entry in touched.values():
        if entry.mark:
            marked = engine.mark(entry.account, market, ts)
            entry.changed |= bool(marked)
            events += marked
        if entry.changed or entry.account.peak_equity != entry.peak_before:
            state.save(entry.account, entry.watched_before, partition)
    return events


# Accounts are marked at most this often per partition, in the ticks' own time (so a replay marks
# where the original run did, given the same batches). A move that reverses within it is not
# seen by the drawdown check; the first tick after it marks every account touched since. A tick
# dated before the last marks restarts the clock, so no tick, however dated, can stop marks.
MARK_INTERVAL = timedelta(milliseconds=250)
_last_marks: dict[int, datetime] = {}
_unmarked: dict[int, set[str]] = {}


@app.on_partitions_revoked.connect
async def _forget_marks(sender: object, revoked: object, **kwargs: object) -> None:
    _last_marks.clear()
    _unmarked.clear()


def _rests_on(account: Account | None, symbol: str) -> bool:
    return account is not None and any(r.order.symbol == symbol for r in account.resting.values())


def _touch(touched: dict[str, _Touched], account_id: str) -> _Touched:
    entry = touched.get(account_id)
    if entry is None:
        entry = touched[account_id] = _Touched(state.load(account_id))
    return entry


class _Touched:
    """An account a batch fills or marks, and what decides whether it must be stored again."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.watched_before = state.watched_symbols(account)
        self.peak_before = account.peak_equity
        self.changed = False
        self.mark = False


async def _publish(outcome: Event, statuses: dict[str, dict]) -> None:
    key = outcome.account_id.encode()
    if isinstance(outcome, Fill):
        topic, message = topics.fills, FillMessage.model_validate(outcome)
        metrics.FILLS.labels(outcome.liquidity.value, str(outcome.liquidation).lower()).inc()
    elif isinstance(outcome, OrderEvent):
        topic, message = topics.order_events, OrderEventMessage.model_validate(outcome)
        reason = outcome.reason.value if outcome.reason else ""
        metrics.ORDER_EVENTS.labels(outcome.status.value, reason).inc()
    elif isinstance(outcome, AccountStatusChanged):
        topic, message = topics.risk_events, AccountStatusMessage.model_validate(outcome)
    else:
        topic, message = topics.risk_events, DrawdownViolationMessage.model_validate(outcome)
        metrics.DRAWDOWN_VIOLATIONS.inc()
    if isinstance(outcome, Fill | OrderEvent):
        _remember(outcome.account_id, outcome.order_id, message, statuses)
    await topic.send(key=key, value=encode(message))
    metrics.MESSAGES_OUT.labels(topic.get_topic_name()).inc()


def _remember(
    account_id: str,
    order_id: str,
    message: FillMessage | OrderEventMessage,
    statuses: dict[str, dict],
) -> None:
    """Keep each order's latest status and its fills, for the API's order lookups.

    ``statuses`` gathers one record's updates, so an order accepted and filled at once (three
    events) is stored once. An order's first event starts its status afresh (an order id may come
    back after the duplicate window); a duplicate's rejection is about another message and leaves
    the first order's status alone.
    """
    key = pair_key(account_id, order_id)
    if isinstance(message, OrderEventMessage):
        if message.reason is Reason.DUPLICATE_ORDER_ID:
            return
        if message.status in (OrderStatus.ACCEPTED, OrderStatus.REJECTED):
            statuses[key] = {"fills": []}
    status = statuses.get(key) or tables.order_status.get(key) or {"fills": []}
    if isinstance(message, FillMessage):
        status["fills"] = [*status["fills"], message.model_dump(mode="json", exclude_none=True)]
    else:
        status.update(message.model_dump(mode="json", exclude_none=True, exclude={"order_id"}))
    statuses[key] = status
