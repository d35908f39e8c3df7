"""Evaluation programs, rule by rule, on hand-computed accounts: no fees, no slippage, an initial
balance of 1 000, BTC at 100 unless a test moves it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal as D
from typing import Any
from zoneinfo import ZoneInfo

from fillstream.core.events import EvaluationDecided, Event, Fill
from fillstream.core.model import (
    Account,
    DayStart,
    Evaluation,
    Program,
    Session,
    Threshold,
    TradingState,
    Trailing,
)
from tests.unit.core.scenario import Book, crypto, statuses

PRAGUE = Session(ZoneInfo("Europe/Prague"), time(0))
NEW_YORK_5PM = Session(ZoneInfo("America/New_York"), time(17))


def running(**rules: Any) -> tuple[Book, Account]:
    book = Book(crypto("BTC", taker="0", maker="0", slippage="0"))
    book.prices["BTC"] = D("100")
    program = Program("challenge", **rules)
    book.market = replace(book.market, program=lambda account: program)
    account = book.account(balance="1000", max_drawdown_pct="100")
    account.evaluation = Evaluation("challenge")
    return book, account


def decided(events: list[Event]) -> list[tuple[str, str, D, D]]:
    """The program's decisions, leaving out the days it closed (see `closed_days`)."""
    verdicts = [e for e in events if isinstance(e, EvaluationDecided) and e.outcome != "day_closed"]
    return [(e.outcome, e.rule, e.threshold, e.measured) for e in verdicts]


def closed_days(events: list[Event]) -> list[tuple[str | None, D, D, str]]:
    days = [e for e in events if isinstance(e, EvaluationDecided) and e.outcome == "day_closed"]
    return [(e.day, e.threshold, e.measured, e.detail) for e in days]


def at(book: Book, when: datetime) -> None:
    """Move the book's clock so its next step (one second on) lands at ``when``."""
    book.clock = when - timedelta(seconds=1)


def test_a_daily_loss_breach_by_a_price_move_alone() -> None:
    book, account = running(daily_loss=Threshold(pct=D("5")), day=PRAGUE)
    book.order(account, "BTC", "buy", "10")
    assert decided(book.tick(account, "BTC", "95")) == []  # lost 50: the limit, not beyond it
    events = book.tick(account, "BTC", "94.9")
    assert decided(events) == [("failed", "daily_loss", D("50"), D("51.0"))]
    (close,) = [e for e in events if isinstance(e, Fill)]
    assert (close.quantity, close.price, close.liquidation) == (D("10"), D("94.9"), True)
    assert account.state is TradingState.HALTED and account.failed and not account.positions
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_HALTED")]


def test_the_day_resets_at_its_time_in_its_zone_across_a_daylight_saving_change() -> None:
    program = Program("p", day=NEW_YORK_5PM)
    # 17:00 in New York is 22:00 UTC in winter, 21:00 UTC once clocks go forward (8 March 2026).
    assert program.day_of(datetime(2026, 3, 6, 21, 59, tzinfo=UTC)) == date(2026, 3, 6)
    assert program.day_of(datetime(2026, 3, 6, 22, 0, tzinfo=UTC)) == date(2026, 3, 7)
    assert program.day_of(datetime(2026, 3, 8, 20, 59, tzinfo=UTC)) == date(2026, 3, 8)
    assert program.day_of(datetime(2026, 3, 8, 21, 0, tzinfo=UTC)) == date(2026, 3, 9)
    midnight = Program("p", day=PRAGUE)  # CET is UTC+1 in winter
    assert midnight.day_of(datetime(2026, 1, 1, 22, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert midnight.day_of(datetime(2026, 1, 1, 23, 0, tzinfo=UTC)) == date(2026, 1, 2)


def test_a_loss_before_the_reset_is_not_counted_after_it() -> None:
    book, account = running(
        daily_loss=Threshold(amount=D("50")), daily_loss_from=DayStart.EQUITY, day=NEW_YORK_5PM
    )
    at(book, datetime(2026, 3, 8, 20, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    assert decided(book.tick(account, "BTC", "96")) == []  # down 40 today
    # 21:00 UTC is 17:00 in New York since this morning: the first mark after it starts a new
    # day, at that mark's equity.
    at(book, datetime(2026, 3, 8, 21, 0, 1, tzinfo=UTC))
    events = book.tick(account, "BTC", "96")
    assert decided(events) == []
    assert closed_days(events) == [("2026-03-08", D("1000"), D("960"), "2026-03-08: -40")]
    assert decided(book.tick(account, "BTC", "95")) == []  # down 10 today, 50 in all
    assert decided(book.tick(account, "BTC", "90.9")) == [
        ("failed", "daily_loss", D("50"), D("51.0"))]  # fmt: skip


def test_the_larger_of_balance_and_equity_at_the_reset() -> None:
    book, account = running(
        daily_loss=Threshold(amount=D("50")), daily_loss_from=DayStart.HIGHER, day=PRAGUE
    )
    at(book, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    book.tick(account, "BTC", "103")  # equity 1 030, balance 1 000
    at(book, datetime(2026, 1, 2, 12, 0, tzinfo=UTC))
    book.tick(account, "BTC", "103")  # the new day starts from 1 030, the equity
    assert decided(book.tick(account, "BTC", "98")) == []  # 980: exactly 50
    assert decided(book.tick(account, "BTC", "97.99")) == [
        ("failed", "daily_loss", D("50"), D("50.10"))]  # fmt: skip


def test_intraday_trailing_follows_the_marks_end_of_day_only_the_closing_balance() -> None:
    rules = {"max_loss": Threshold(amount=D("100")), "day": PRAGUE}
    intraday_book, intraday = running(max_loss_trailing=Trailing.INTRADAY, **rules)
    eod_book, eod = running(max_loss_trailing=Trailing.END_OF_DAY, **rules)
    for book, account in ((intraday_book, intraday), (eod_book, eod)):
        at(book, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
        book.order(account, "BTC", "buy", "10")
        book.tick(account, "BTC", "108")  # equity 1 080: the intraday floor rises to 980
    assert decided(intraday_book.tick(intraday, "BTC", "97.9")) == [
        ("failed", "max_loss", D("980"), D("979.0"))]  # fmt: skip
    # End of day: the floor is 900 until a day ends; at 979 nothing happens.
    assert decided(eod_book.tick(eod, "BTC", "97.9")) == []
    eod_book.order(eod, "BTC", "sell", "10", limit="105")  # rests
    eod_book.tick(eod, "BTC", "105")  # sold at 105: balance 1 050
    at(eod_book, datetime(2026, 1, 2, 12, 0, tzinfo=UTC))
    eod_book.order(eod, "BTC", "buy", "10")  # at 105; the day rolled: floor 1 050 - 100
    assert decided(eod_book.tick(eod, "BTC", "95")) == []  # 950: on the floor
    assert decided(eod_book.tick(eod, "BTC", "94.9")) == [
        ("failed", "max_loss", D("950"), D("949.0"))]  # fmt: skip


def test_a_trailing_floor_stops_at_the_starting_balance() -> None:
    book, account = running(
        max_loss=Threshold(pct=D("10")), max_loss_trailing=Trailing.INTRADAY,
        max_loss_stops_at_start=True,
    )  # fmt: skip
    book.order(account, "BTC", "buy", "10")
    book.tick(account, "BTC", "120")  # 1 200: the floor would be 1 100, it stops at 1 000
    assert decided(book.tick(account, "BTC", "100")) == []
    assert decided(book.tick(account, "BTC", "99.99")) == [
        ("failed", "max_loss", D("1000"), D("999.90"))]  # fmt: skip


def test_a_pass_on_the_day_the_minimum_days_are_met() -> None:
    book, account = running(profit_target=Threshold(pct=D("10")), min_trading_days=3, day=PRAGUE)
    at(book, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    book.tick(account, "BTC", "112")
    assert decided(book.order(account, "BTC", "sell", "10")) == []  # +120, one day traded
    for day in (6, 7):
        at(book, datetime(2026, 1, day, 9, 0, tzinfo=UTC))
        book.order(account, "BTC", "buy", "1")
        events = book.order(account, "BTC", "sell", "1")
    assert decided(events) == [("passed", "profit_target", D("100"), D("120"))]
    assert account.state is TradingState.CLOSED
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_CLOSED")]


def test_no_pass_while_one_day_makes_too_much_of_the_profit() -> None:
    book, account = running(profit_target=Threshold(amount=D("150")), consistency_pct=D("50"),
                            day=PRAGUE)  # fmt: skip
    at(book, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    book.tick(account, "BTC", "116")
    book.order(account, "BTC", "sell", "10")  # day 1: +160, the target, all of it in one day
    assert account.evaluation is not None and account.evaluation.outcome is None
    at(book, datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")  # at 116
    book.tick(account, "BTC", "130")
    # Day 2: +140; the best day (160) is 53.3 % of 300.
    assert decided(book.order(account, "BTC", "sell", "10")) == []
    at(book, datetime(2026, 1, 7, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "1")  # at 130
    book.tick(account, "BTC", "150")
    # Day 3: +20; 160 of 320 is 50 %.
    assert decided(book.order(account, "BTC", "sell", "1")) == [
        ("passed", "profit_target", D("150"), D("320"))]  # fmt: skip


def test_a_daily_loss_that_locks_until_the_next_reset() -> None:
    book, account = running(daily_loss=Threshold(amount=D("50")), daily_loss_locks=True,
                            day=PRAGUE)  # fmt: skip
    at(book, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    assert decided(book.tick(account, "BTC", "94")) == [("locked", "daily_loss", D("50"), D("60"))]
    assert account.state is TradingState.HALTED and not account.failed and not account.positions
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ACCOUNT_HALTED")]
    at(book, datetime(2026, 1, 5, 23, 0, tzinfo=UTC))  # midnight in Prague
    events = book.order(account, "BTC", "buy", "1")  # marked first: the day rolls
    assert decided(events) == [("unlocked", "daily_loss", D("0"), D("0"))]
    assert statuses(events) == [("accepted", None), ("filled", None)]
    assert account.state is TradingState.ACTIVE


def test_the_throttle_and_the_open_order_and_position_limits() -> None:
    book, account = running(max_orders_per_minute=3, max_open_orders=2,
                            max_position_notional=D("1500"))  # fmt: skip
    book.order(account, "BTC", "buy", "1", limit="90")
    book.order(account, "BTC", "buy", "1", limit="80")
    # The third order of the minute passes the throttle, not the open-order limit.
    assert statuses(book.order(account, "BTC", "buy", "1", limit="70")) == [
        ("rejected", "OPEN_ORDER_LIMIT")]  # fmt: skip
    assert statuses(book.order(account, "BTC", "buy", "1")) == [("rejected", "ORDER_RATE_LIMIT")]
    book.clock += timedelta(minutes=1)
    book.cancel(account, "o1")
    book.cancel(account, "o2")
    book.order(account, "BTC", "buy", "10")  # 1 000 of BTC
    assert statuses(book.order(account, "BTC", "buy", "6")) == [("rejected", "POSITION_LIMIT")]
    # Selling 20 turns the long 10 into a short 10: 1 000 again, allowed.
    assert statuses(book.order(account, "BTC", "sell", "20")) == [
        ("accepted", None), ("filled", None)]  # fmt: skip


def test_max_duration() -> None:
    book, account = running(max_days=2)
    book.order(account, "BTC", "buy", "1")
    book.clock += timedelta(days=2)
    assert decided(book.tick(account, "BTC", "100")) == [
        ("failed", "max_duration", D("2"), D("0"))]  # fmt: skip


def test_a_daily_loss_in_percent_of_the_day_start() -> None:
    book, account = running(daily_loss=Threshold(pct=D("5")), daily_loss_from=DayStart.EQUITY,
                            daily_loss_pct_of_day_start=True, day=PRAGUE)  # fmt: skip
    at(book, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    book.order(account, "BTC", "buy", "10")
    book.tick(account, "BTC", "120")  # 1 200
    at(book, datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    book.tick(account, "BTC", "120")  # the day starts at 1 200: 5 % of it is 60
    assert decided(book.tick(account, "BTC", "114")) == []  # 1 140: 60 down
    assert decided(book.tick(account, "BTC", "113.9")) == [
        ("failed", "daily_loss", D("60.00"), D("61.0"))]  # fmt: skip
