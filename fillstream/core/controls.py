"""What an operator may do to an account: halt it, let it only reduce, resume it, flatten it or
close it. Every control, applied or refused, leaves an audit record (`ControlApplied`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import localcontext
from enum import StrEnum

from fillstream.core import buying_power
from fillstream.core.engine import liquidate, mark
from fillstream.core.events import (
    AccountStatusChanged,
    ControlApplied,
    Event,
    OrderStatus,
    ended,
)
from fillstream.core.model import EXACT, Account, Market, Reason, TradingState


class Action(StrEnum):
    HALT = "halt"
    """Nothing but cancels: resting orders are cancelled, positions stay (and are marked)."""
    REDUCE = "reduce"
    """Only orders that reduce a position: resting orders that would grow one are cancelled."""
    RESUME = "resume"
    """Active again, unless the account failed its drawdown limit or was closed."""
    FLATTEN = "flatten"
    """Cancel every resting order and close every position at the market; the state stays."""
    CLOSE = "close"
    """Flatten, and accept nothing more, ever."""


@dataclass(frozen=True)
class Control:
    account_id: str
    action: Action
    operator: str
    reason: str | None = None


STATE_AFTER = {
    Action.HALT: TradingState.HALTED,
    Action.REDUCE: TradingState.REDUCING,
    Action.RESUME: TradingState.ACTIVE,
    Action.CLOSE: TradingState.CLOSED,
}


def apply(account: Account | None, control: Control, market: Market, now: datetime) -> list[Event]:
    with localcontext(EXACT):
        refusal = _refusal(account, control.action)
        if refusal is not None:
            return [_audit(control, "refused", refusal, now)]
        assert account is not None
        action = control.action
        before = account.state
        account.state = STATE_AFTER.get(action, before)
        if action is Action.RESUME and account.evaluation is not None:
            # Resumed by hand: the program's rules watch it again, from the mark below.
            account.evaluation.locked = False
        events: list[Event] = []
        if account.state is not before:
            why = f"control: {action.value}"
            events.append(AccountStatusChanged(account.account_id, account.state.value, why, now))
        by = f"the operator's {action.value}"
        events += enforce(account, action, by, control.operator, market, now)
        if action is Action.RESUME:
            # Judged at once: a day's loss still past its limit locks the account again.
            events += mark(account, market, now)
        detail = f"{before.value} -> {account.state.value}"
        return [_audit(control, "applied", detail, now), *events]


def enforce(
    account: Account, action: Action, by: str, operator: str, market: Market, now: datetime
) -> list[Event]:
    """What an action does to one account's orders and positions, whichever state (the
    account's or the firm's) it sets."""
    with localcontext(EXACT):
        events: list[Event] = []
        if action in (Action.HALT, Action.REDUCE, Action.FLATTEN, Action.CLOSE):
            events += _cancel(account, action, by, operator, now)
        if action in (Action.FLATTEN, Action.CLOSE):
            events += liquidate(account, market, now)
            events += mark(account, market, now)
        return events


FIRM = "~firm"
"""The account id of a firm-wide control's audit records."""


def firm_state_after(action: Action, before: TradingState) -> TradingState:
    return STATE_AFTER.get(action, before)


def firm_applied(control: Control, partition: int, now: datetime) -> ControlApplied:
    """A partition's audit record of a firm-wide control: the same on a replay, so a consumer
    sees each partition acknowledge it once (or twice, identically)."""
    after = firm_state_after(control.action, TradingState.ACTIVE).value
    detail = f"partition {partition}: trading {after}" if control.action in STATE_AFTER else (
        f"partition {partition}: every position closed")  # fmt: skip
    return _audit(control, "applied", detail, now)


def _refusal(account: Account | None, action: Action) -> str | None:
    if account is None:
        return "no such account"
    if account.state is TradingState.CLOSED:
        return "the account is closed"
    if account.failed and action in (Action.RESUME, Action.REDUCE):
        return "the account failed its drawdown limit: it stays halted"
    return None


def _cancel(account: Account, action: Action, by: str, operator: str, now: datetime) -> list[Event]:
    """The resting orders the action ends: all of them, or for a reduce those that would grow
    a position."""
    growing = buying_power.adding(account) if action is Action.REDUCE else None
    reason = {
        Action.HALT: Reason.ACCOUNT_HALTED,
        Action.REDUCE: Reason.ACCOUNT_REDUCING,
        Action.CLOSE: Reason.ACCOUNT_CLOSED,
    }.get(action)
    events: list[Event] = []
    for order_id, resting in list(account.resting.items()):
        if growing is not None and not growing[order_id]:
            continue
        del account.resting[order_id]
        detail = f"cancelled by {by} ({operator})"
        events.append(ended(account, resting, OrderStatus.CANCELLED, now, reason, detail))
    return events


def _audit(control: Control, result: str, detail: str, now: datetime) -> ControlApplied:
    return ControlApplied(
        control.account_id,
        control.action.value,
        result,
        control.operator,
        control.reason,
        detail,
        now,
    )
