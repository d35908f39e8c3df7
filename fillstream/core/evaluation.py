"""An account's evaluation program at work: its trading days, its day resets, the verdicts of its
loss rules and target at every mark, and the limits it puts on orders. The arithmetic of each
rule is in `program`; what a verdict does to the account (halt, lock, close) is here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fillstream.core import program
from fillstream.core.events import AccountStatusChanged, EvaluationDecided, Event
from fillstream.core.model import (
    ZERO,
    Account,
    Market,
    Order,
    Reason,
    Side,
    TradingState,
    position_key,
)
from fillstream.core.program import Program, Verdict


def _running(account: Account, market: Market, now: datetime) -> Program | None:
    """The account's program, its evaluation started, or None if it runs none."""
    evaluation = account.evaluation
    if evaluation is None:
        return None
    rules = market.program(account)
    if rules is not None and evaluation.started is None:
        program.begin(evaluation, account, rules, now)
    return rules


def trade(account: Account, market: Market, now: datetime) -> None:
    """A fill of the account's own orders: its program day is a trading day."""
    rules = _running(account, market, now)
    if rules is not None and account.evaluation is not None:
        program.traded(account.evaluation, rules, now)


def judge(account: Account, market: Market, equity: Decimal, now: datetime) -> list[Event]:
    """At a mark: roll the program day if a reset has passed (lifting a daily lock), then judge
    the rules, setting the state a verdict calls for; the caller ends orders and positions."""
    rules = _running(account, market, now)
    evaluation = account.evaluation
    if rules is None or evaluation is None or evaluation.outcome is not None:
        return []
    events: list[Event] = []
    balance = program.balance(account)
    closed = program.roll(evaluation, rules, equity, balance, now)
    if closed is not None:
        profit = closed.end - closed.start
        events.append(
            EvaluationDecided(
                account.account_id, evaluation.program_id, "day_closed",
                program.Rule.PROGRAM_DAY.value, closed.start, closed.end,
                f"{closed.day.isoformat()}: {profit:+f}", now, day=closed.day.isoformat(),
            )
        )  # fmt: skip
    if closed is not None and evaluation.locked:
        evaluation.locked = False
        if account.state is TradingState.HALTED:
            account.state = TradingState.ACTIVE
            events += [
                _decided(
                    account,
                    evaluation.program_id,
                    "unlocked",
                    program.Rule.DAILY_LOSS,
                    ZERO,
                    ZERO,
                    "a new program day",
                    now,
                ),
                AccountStatusChanged(account.account_id, "active", "daily_loss_reset", now),
            ]
    if evaluation.locked:
        return events
    verdict = program.judge(evaluation, account, rules, equity, now)
    if verdict is None:
        return events
    return events + _apply(account, evaluation.program_id, verdict, now)


def _apply(account: Account, program_id: str, verdict: Verdict, now: datetime) -> list[Event]:
    evaluation = account.evaluation
    assert evaluation is not None
    decided = _decided(account, program_id, verdict.outcome, verdict.rule, verdict.threshold,
                       verdict.measured, verdict.detail, now)  # fmt: skip
    if verdict.outcome == "passed":
        evaluation.outcome = "passed"
        account.state = TradingState.CLOSED
        status = AccountStatusChanged(account.account_id, "closed", "passed", now)
    elif verdict.locks:
        evaluation.locked = True
        account.state = TradingState.HALTED
        status = AccountStatusChanged(account.account_id, "halted", verdict.rule.value, now)
    else:
        evaluation.outcome = "failed"
        account.state, account.failed = TradingState.HALTED, True
        status = AccountStatusChanged(account.account_id, "halted", verdict.rule.value, now)
    return [decided, status]


def failed_by_drawdown(account: Account, drawdown: Decimal, now: datetime) -> list[Event]:
    """The account's own drawdown limit failed it: so did its evaluation."""
    evaluation = account.evaluation
    if evaluation is None or evaluation.outcome is not None:
        return []
    evaluation.outcome = "failed"
    limit = account.limits.max_drawdown_pct
    return [
        EvaluationDecided(
            account.account_id, evaluation.program_id, "failed", "max_drawdown", limit,
            drawdown, f"drawdown {drawdown}% beyond {limit}%", now,
        )
    ]  # fmt: skip


def check_activity(account: Account, market: Market, now: datetime) -> tuple[Reason, str] | None:
    """The program's throttle, then its limit on open orders, before a new order: an order
    the throttle refuses does not count toward the rate."""
    rules = _running(account, market, now)
    if rules is None or account.evaluation is None:
        return None
    throttled = program.throttled(account.evaluation, rules, now)
    if throttled is not None:
        return Reason.ORDER_RATE_LIMIT, throttled
    if rules.max_open_orders is not None and len(account.resting) >= rules.max_open_orders:
        open_orders = len(account.resting)
        why = f"{open_orders} orders open; the limit is {rules.max_open_orders}"
        return Reason.OPEN_ORDER_LIMIT, why
    return None


def check_position(
    account: Account, order: Order, market: Market, growth: Decimal, price: Decimal
) -> str | None:
    """Why the order would take its position past the program's largest, or None."""
    rules = market.program(account) if account.evaluation is not None else None
    if rules is None or rules.max_position_notional is None or not growth:
        return None
    held = account.positions.get(position_key(order.symbol, order.outcome))
    signed = held.quantity if held else ZERO
    same_side = signed > 0 if order.side is Side.BUY else signed < 0
    quantity = (abs(signed) if same_side else ZERO) + growth
    if quantity * price > rules.max_position_notional:
        return (
            f"position {quantity} x {price} = {quantity * price} would exceed "
            f"{rules.max_position_notional} in {order.symbol}"
        )
    return None


def _decided(
    account: Account, program_id: str, outcome: str, rule: program.Rule | str,
    limit: Decimal, value: Decimal, detail: str, now: datetime,
) -> EvaluationDecided:  # fmt: skip
    return EvaluationDecided(
        account.account_id, program_id, outcome, str(rule), limit, value, detail, now
    )
