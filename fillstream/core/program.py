"""Evaluation programs: the rule sets prop firms run their challenges on, and an account's
progress through one. Each rule is configurable, none is one firm's.

Equity (positions at their marks) decides the loss rules at every mark; the balance (cash plus
the cost of what is held: equity without unrealized P&L) decides the trailing end-of-day floor;
profit is judged flat, so a pass is never an open position's paper gain. See docs/topics.md,
"Programs", for the arithmetic with worked examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fillstream.core.model import (
    HUNDRED,
    ZERO,
    Account,
    DayStart,
    Evaluation,
    Program,
    Trailing,
)


class Rule(StrEnum):
    DAILY_LOSS = "daily_loss"
    MAX_LOSS = "max_loss"
    MAX_DURATION = "max_duration"
    PROFIT_TARGET = "profit_target"
    PROGRAM_DAY = "program_day"


@dataclass(frozen=True)
class Verdict:
    """What a mark decided: a rule breached (``locks`` for a soft one), or a pass."""

    outcome: str
    rule: Rule
    threshold: Decimal
    measured: Decimal
    detail: str
    locks: bool = False


def balance(account: Account) -> Decimal:
    """Cash plus what the positions cost: equity without unrealized P&L."""
    return account.cash + sum((p.cost for p in account.positions.values()), ZERO)


def begin(evaluation: Evaluation, account: Account, program: Program, now: datetime) -> None:
    evaluation.started = now
    evaluation.day = program.day_of(now)
    start = account.starting_balance
    evaluation.day_start_balance = evaluation.day_start_equity = start
    evaluation.high_water = evaluation.eod_high_water = start


@dataclass(frozen=True)
class ClosedDay:
    """A program day that has ended: its name, and the equity it started and ended at."""

    day: date
    start: Decimal
    end: Decimal


def roll(
    evaluation: Evaluation, program: Program, equity: Decimal, bal: Decimal, now: datetime
) -> ClosedDay | None:
    """Close the day if it ended before ``now`` (days without a mark close together): the
    finished day's profit, the end-of-day high-water mark, the next day's start."""
    today = program.day_of(now)
    closed = evaluation.day
    if closed is None or today <= closed:
        return None
    evaluation.best_day = max(evaluation.best_day, equity - evaluation.day_start_equity)
    evaluation.eod_high_water = max(evaluation.eod_high_water, bal)
    ended = ClosedDay(closed, evaluation.day_start_equity, equity)
    evaluation.day = today
    evaluation.day_start_balance, evaluation.day_start_equity = bal, equity
    return ended


def next_reset(day: date, program: Program) -> datetime:
    """When the program day ``day`` ends: the first instant that falls in a later day."""
    session = program.day
    moment = datetime.combine(day - timedelta(days=2), time(0), session.zone)
    while program.day_of(moment) <= day:
        moment = session.end_of_day(moment)
    return moment


def traded(evaluation: Evaluation, program: Program, now: datetime) -> None:
    """A trade of the account's own: the day it falls in counts as a trading day."""
    day = program.day_of(now)
    if evaluation.last_traded != day:
        evaluation.last_traded = day
        evaluation.days_traded += 1


def judge(
    evaluation: Evaluation, account: Account, program: Program, equity: Decimal, now: datetime
) -> Verdict | None:
    """The loss rules on equity, then the duration, then a pass."""
    evaluation.high_water = max(evaluation.high_water, equity)
    if (daily := daily_loss(evaluation, account, program)) is not None:
        start, limit = daily
        if start - equity > limit:
            return Verdict(
                "locked" if program.daily_loss_locks else "failed",
                Rule.DAILY_LOSS,
                limit,
                start - equity,
                f"lost {start - equity} today, from {start}; the limit is {limit}",
                locks=program.daily_loss_locks,
            )
    floor = max_loss_floor(evaluation, account, program)
    if floor is not None and equity < floor:
        return Verdict(
            "failed", Rule.MAX_LOSS, floor, equity, f"equity {equity} below the floor {floor}"
        )
    if program.max_days is not None and evaluation.started is not None:
        deadline = evaluation.started + timedelta(days=program.max_days)
        if now >= deadline:
            return Verdict(
                "failed", Rule.MAX_DURATION, Decimal(program.max_days), ZERO,
                f"not passed within {program.max_days} days",
            )  # fmt: skip
    return _passed(evaluation, account, program, equity)


def daily_loss(
    evaluation: Evaluation, account: Account, program: Program
) -> tuple[Decimal, Decimal] | None:
    """Where today's loss is measured from, and how much of it is allowed."""
    if program.daily_loss is None:
        return None
    start = {
        DayStart.BALANCE: evaluation.day_start_balance,
        DayStart.EQUITY: evaluation.day_start_equity,
        DayStart.HIGHER: max(evaluation.day_start_balance, evaluation.day_start_equity),
    }[program.daily_loss_from]
    base = start if program.daily_loss_pct_of_day_start else account.starting_balance
    return start, program.daily_loss.of(base)


def max_loss_floor(evaluation: Evaluation, account: Account, program: Program) -> Decimal | None:
    if program.max_loss is None:
        return None
    initial = account.starting_balance
    loss = program.max_loss.of(initial)
    base = {
        Trailing.STATIC: initial,
        Trailing.INTRADAY: evaluation.high_water,
        Trailing.END_OF_DAY: evaluation.eod_high_water,
    }[program.max_loss_trailing]
    floor = base - loss
    if program.max_loss_stops_at_start and program.max_loss_trailing is not Trailing.STATIC:
        floor = min(floor, initial)
    return floor


def _passed(
    evaluation: Evaluation, account: Account, program: Program, equity: Decimal
) -> Verdict | None:
    if program.profit_target is None or account.positions:
        return None
    target = program.profit_target.of(account.starting_balance)
    profit = equity - account.starting_balance
    if profit < target or evaluation.days_traded < program.min_trading_days:
        return None
    if program.consistency_pct is not None:
        best = max(evaluation.best_day, equity - evaluation.day_start_equity)
        if best > profit * program.consistency_pct / HUNDRED:
            return None
    return Verdict(
        "passed", Rule.PROFIT_TARGET, target, profit,
        f"profit {profit} reached the target {target} in {evaluation.days_traded} trading days",
    )  # fmt: skip


def throttled(evaluation: Evaluation, program: Program, now: datetime) -> str | None:
    """Why an order now would exceed the order rate, or None (then it counts)."""
    recent = [t for t in evaluation.orders if t > now - timedelta(minutes=1)]
    last_second = sum(t > now - timedelta(seconds=1) for t in recent)
    if program.max_orders_per_second is not None and last_second >= program.max_orders_per_second:
        return (
            f"{last_second} orders in the last second; the limit is {program.max_orders_per_second}"
        )
    if program.max_orders_per_minute is not None and len(recent) >= program.max_orders_per_minute:
        return (
            f"{len(recent)} orders in the last minute; the limit is {program.max_orders_per_minute}"
        )
    if program.max_orders_per_second is not None or program.max_orders_per_minute is not None:
        evaluation.orders = [*recent, now]
    return None


def standing(
    evaluation: Evaluation, account: Account, rules: Program, equity: Decimal
) -> dict[str, Any]:
    """Where the account stands against each of its program's rules, for people: what is left
    of today's loss, the distance to the floor and to the target, the days."""
    initial = account.starting_balance
    shown: dict[str, Any] = {
        "program_id": evaluation.program_id,
        "outcome": evaluation.outcome,
        "locked": evaluation.locked,
        "day": evaluation.day.isoformat() if evaluation.day else None,
        "days_traded": evaluation.days_traded,
        "min_trading_days": rules.min_trading_days,
    }
    if (daily := daily_loss(evaluation, account, rules)) is not None:
        start, limit = daily
        shown["daily_loss"] = {"limit": limit, "lost": start - equity,
                               "remaining": limit - (start - equity)}  # fmt: skip
    floor = max_loss_floor(evaluation, account, rules)
    if floor is not None:
        shown["max_loss"] = {"floor": floor, "distance": equity - floor}
    if rules.profit_target is not None:
        target = rules.profit_target.of(initial)
        shown["profit_target"] = {"target": target, "profit": equity - initial,
                                  "remaining": max(target - (equity - initial), ZERO)}  # fmt: skip
    if rules.max_days is not None and evaluation.started is not None:
        shown["ends_at"] = evaluation.started + timedelta(days=rules.max_days)
    return shown
