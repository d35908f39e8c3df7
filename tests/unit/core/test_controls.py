"""Operators' controls of one account: each state's rules, and an audit record for every control,
applied or refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

from fillstream.core import controls
from fillstream.core.controls import Action, Control
from fillstream.core.events import AccountStatusChanged, ControlApplied, Event, OrderEvent
from fillstream.core.model import Account, AccountLimits, Reason, TradingState
from tests.unit.core.scenario import Book, crypto, fills, statuses


def holder() -> tuple[Book, Account]:
    """Long 2 BTC bought at 100 (no fee, no slippage), a resting buy of 1 at 90 and a resting
    sell of 1 at 120."""
    book = Book(crypto("BTC", taker="0", maker="0", slippage="0"))
    book.prices["BTC"] = D("100")
    account = book.account(balance="1000")
    book.order(account, "BTC", "buy", "2")
    book.order(account, "BTC", "buy", "1", limit="90", order_id="bid")
    book.order(account, "BTC", "sell", "1", limit="120", order_id="offer")
    return book, account


def control(book: Book, account: Account | None, action: str) -> list[Event]:
    book.clock += timedelta(seconds=1)
    command = Control("acc-1", Action(action), operator="desk", reason="review")
    return controls.apply(account, command, book.market, book.clock)


def audit(events: list[Event]) -> tuple[str, str, str]:
    (record,) = [e for e in events if isinstance(e, ControlApplied)]
    assert events[0] is record and (record.operator, record.reason) == ("desk", "review")
    return record.action, record.result, record.detail


def test_halt_cancels_resting_orders_keeps_positions_and_refuses_new_orders() -> None:
    book, account = holder()
    events = control(book, account, "halt")
    assert audit(events) == ("halt", "applied", "active -> halted")
    assert [(e.status, e.reason) for e in events if isinstance(e, AccountStatusChanged)] == [
        ("halted", "control: halt")]  # fmt: skip
    assert statuses(events) == [("cancelled", "ACCOUNT_HALTED")] * 2
    assert account.positions["BTC"].quantity == D("2") and not account.resting
    assert statuses(book.order(account, "BTC", "sell", "1")) == [("rejected", "ACCOUNT_HALTED")]
    # The drawdown rule still watches a halted account, and a resume lets it trade again.
    assert audit(control(book, account, "resume")) == ("resume", "applied", "halted -> active")
    assert statuses(book.order(account, "BTC", "sell", "1")) == [
        ("accepted", None),
        ("filled", None),
    ]


def test_reducing_keeps_only_what_brings_a_position_toward_zero() -> None:
    book, account = holder()
    events = control(book, account, "reduce")
    assert audit(events) == ("reduce", "applied", "active -> reducing")
    # The resting buy would grow the long: cancelled; the resting sell reduces it: kept.
    cancelled = [(e.order_id, e.reason) for e in events if isinstance(e, OrderEvent)]
    assert cancelled == [("bid", Reason.ACCOUNT_REDUCING)]
    assert set(account.resting) == {"offer"}
    assert statuses(book.order(account, "BTC", "buy", "0.1")) == [("rejected", "ACCOUNT_REDUCING")]
    # Selling 3 of a long 2 (1 of it resting) would open a short: refused too.
    assert statuses(book.order(account, "BTC", "sell", "2")) == [("rejected", "ACCOUNT_REDUCING")]
    assert statuses(book.order(account, "BTC", "sell", "1")) == [
        ("accepted", None),
        ("filled", None),
    ]
    assert account.positions["BTC"].quantity == D("1")


def test_flatten_closes_everything_at_the_market_and_keeps_the_state() -> None:
    book, account = holder()
    book.prices["BTC"] = D("110")
    events = control(book, account, "flatten")
    assert audit(events) == ("flatten", "applied", "active -> active")
    assert not [e for e in events if isinstance(e, AccountStatusChanged)]
    (close,) = fills(events)
    assert (close.side.value, close.quantity, close.price, close.realized_pnl) == (
        "sell", D("2"), D("110"), D("20"))  # fmt: skip
    assert account.cash == D("1020") and not account.positions and not account.resting
    assert statuses(book.order(account, "BTC", "buy", "1")) == [
        ("accepted", None),
        ("filled", None),
    ]


def test_close_is_final() -> None:
    book, account = holder()
    events = control(book, account, "close")
    assert audit(events) == ("close", "applied", "active -> closed")
    assert statuses(events) == [("cancelled", "ACCOUNT_CLOSED")] * 2
    assert len(fills(events)) == 1 and account.state is TradingState.CLOSED
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_CLOSED")]
    for action in ("resume", "halt", "flatten"):
        refused = control(book, account, action)
        assert audit(refused) == (action, "refused", "the account is closed")
        assert len(refused) == 1


def test_a_failed_account_cannot_be_resumed_or_set_reducing() -> None:
    book, account = holder()
    account.limits = AccountLimits(D("1"), D("100"), D("5"))
    book.tick(account, "BTC", "70")  # 2 x 30 lost of 1000: 6 % down
    assert account.failed and account.state is TradingState.HALTED
    for action in ("resume", "reduce"):
        why = "the account failed its drawdown limit: it stays halted"
        assert audit(control(book, account, action)) == (action, "refused", why)
    assert account.state is TradingState.HALTED
    # Closing a failed account is allowed (it has nothing left to flatten).
    assert audit(control(book, account, "close")) == ("close", "applied", "halted -> closed")


def test_a_control_for_no_account_is_refused_with_its_reason() -> None:
    book, _ = holder()
    assert audit(control(book, None, "halt")) == ("halt", "refused", "no such account")


def test_a_reducing_account_replaces_and_cancels_but_never_grows_a_position() -> None:
    book, account = holder()
    control(book, account, "reduce")
    assert statuses(book.replace(account, "offer", limit="125")) == [("replaced", None)]
    # Selling 3 against a long 2 would open a short of 1.
    assert statuses(book.replace(account, "offer", quantity="3")) == [
        ("replace_rejected", "ACCOUNT_REDUCING")]  # fmt: skip
    assert statuses(book.cancel(account, "offer")) == [("cancelled", None)]


def test_the_firm_state_restricts_every_account_as_its_own_would() -> None:
    book, account = holder()
    book.market = replace(book.market, trading=TradingState.REDUCING)
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_REDUCING")]
    assert statuses(book.order(account, "BTC", "sell", "1")) == [
        ("accepted", None),
        ("filled", None),
    ]
    book.market = replace(book.market, trading=TradingState.HALTED)
    assert statuses(book.order(account, "BTC", "sell", "1")) == [("rejected", "ACCOUNT_HALTED")]
    assert statuses(book.replace(account, "bid", limit="91")) == [
        ("replace_rejected", "ACCOUNT_HALTED")]  # fmt: skip
    # What the kill switch does to each account: its orders, never its own state.
    events = controls.enforce(
        account, Action.HALT, "the firm-wide halt", "desk", book.market, book.clock
    )
    assert statuses(events) == [("cancelled", "ACCOUNT_HALTED")] * 2
    assert account.state is TradingState.ACTIVE and not account.resting
