"""The execution agent: per account partition, orders and account registrations in, and the
market fanned out by the router; fills, order events and risk events out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from fillstream.agents import sequencing
from fillstream.agents.guard import record_time, require_key
from fillstream.agents.record import Record
from fillstream.app import app, settings
from fillstream.core import engine
from fillstream.core.events import AccountStatusChanged, Event, Fill, OrderEvent
from fillstream.core.model import Account, AccountLimits, Instrument, split_position_key
from fillstream.schemas.inbound import (
    AccountMessage,
    InstrumentMessage,
    OrderMessage,
    TickMessage,
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
from fillstream.tables.account_state import dump_account, load_account
from fillstream.tables.tables import market_key

DUPLICATE_WINDOW = timedelta(hours=settings.duplicate_window_hours)


@app.agent(topics.account_inputs)
async def execute(stream) -> None:
    await sequencing.process_in_order(stream, _handle)


async def _handle(record: Record) -> None:
    topic = record.topic
    if topic == topics.orders.get_topic_name():
        events = _on_order(record)
    elif topic == topics.accounts.get_topic_name():
        events = _on_account(record)
    else:
        events = _on_market_data(record)
    for outcome in events:
        await _publish(outcome)


def _on_order(record: Record) -> list[Event]:
    message = decode(OrderMessage, record.value)
    require_key(record, message.account_id, "account_id")
    order = to_order(message)
    account = _load(message.account_id)
    offset = record.offset
    if engine.is_replay(account, order, offset):
        return []
    watched_before = _watched_symbols(account)
    events = engine.submit_order(
        account,
        order,
        _market(record.partition),
        now=message.ts or record_time(record),
        offset=offset,
        duplicate_window=DUPLICATE_WINDOW,
    )
    if account is not None:
        _save(account, watched_before, record.partition)
    return events


def _on_account(record: Record) -> list[Event]:
    message = decode(AccountMessage, record.value)
    require_key(record, message.account_id, "account_id")
    existing = _load(message.account_id)
    if existing is not None:
        existing.limits = _limits(message, existing.limits)
        _save(existing, _watched_symbols(existing), record.partition)
        return []
    account = engine.open_account(
        message.account_id, message.starting_balance, _limits(message, None)
    )
    _save(account, set(), record.partition)
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
    partition = record.partition
    payload = json.loads(record.value, parse_float=Decimal)
    if "instrument" in payload:
        instrument = InstrumentMessage.model_validate(payload["instrument"])
        tables.instruments[market_key(instrument.symbol, partition)] = payload["instrument"]
        return []
    tick = TickMessage.model_validate(payload["tick"])
    key = market_key(tick.symbol, partition)
    tables.prices[key] = payload["tick"]
    market = _market(partition)
    events: list[Event] = []
    for account_id in tables.watchers.get(key) or []:
        account = _load(account_id)
        watched_before = _watched_symbols(account)
        peak_before = account.peak_equity
        account_events = engine.on_tick(account, tick.symbol, market, tick.ts)
        if account_events or account.peak_equity != peak_before:
            _save(account, watched_before, partition)
        events += account_events
    return events


def _market(partition: int) -> engine.Market:
    def instrument(symbol: str) -> Instrument | None:
        document = tables.instruments.get(market_key(symbol, partition))
        return to_instrument(InstrumentMessage.model_validate(document)) if document else None

    def last_price(symbol: str) -> Decimal | None:
        document = tables.prices.get(market_key(symbol, partition))
        return Decimal(document["price"]) if document else None

    return engine.Market(instrument, last_price)


def _load(account_id: str) -> Account | None:
    document = tables.accounts.get(account_id)
    return load_account(document) if document else None


def _watched_symbols(account: Account | None) -> set[str]:
    if account is None:
        return set()
    held = {split_position_key(key)[0] for key in account.positions}
    return held | {resting.order.symbol for resting in account.resting.values()}


def _save(account: Account, watched_before: set[str], partition: int) -> None:
    """Store the account and keep the symbol index of who to mark on a tick in step with it."""
    tables.accounts[account.account_id] = dump_account(account)
    watched_after = _watched_symbols(account)
    for symbol in watched_after - watched_before:
        key = market_key(symbol, partition)
        tables.watchers[key] = sorted({*(tables.watchers.get(key) or []), account.account_id})
    for symbol in watched_before - watched_after:
        key = market_key(symbol, partition)
        remaining = [a for a in tables.watchers.get(key) or [] if a != account.account_id]
        tables.watchers[key] = remaining


async def _publish(outcome: Event) -> None:
    key = outcome.account_id.encode()
    if isinstance(outcome, Fill):
        await topics.fills.send(key=key, value=encode(FillMessage.model_validate(outcome)))
    elif isinstance(outcome, OrderEvent):
        await topics.order_events.send(
            key=key, value=encode(OrderEventMessage.model_validate(outcome))
        )
    elif isinstance(outcome, AccountStatusChanged):
        await topics.risk_events.send(
            key=key, value=encode(AccountStatusMessage.model_validate(outcome))
        )
    else:
        await topics.risk_events.send(
            key=key, value=encode(DrawdownViolationMessage.model_validate(outcome))
        )
