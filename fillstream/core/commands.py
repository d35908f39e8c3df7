"""Cancel and replace: what a trader may do to an open order, with a clear refusal otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import localcontext

from fillstream.core.checks import Rejected, check_well_formed
from fillstream.core.contingent import end_unprotected_entries
from fillstream.core.engine import expire, place, refuse_when_stopped
from fillstream.core.events import (
    Event,
    OrderEvent,
    OrderStatus,
    ended,
    order_event,
)
from fillstream.core.model import (
    ENGINE_ID_PREFIX,
    EXACT,
    Account,
    Cancel,
    Market,
    OrderIds,
    Reason,
    Replace,
    RestingOrder,
    copy_account,
)


def cancel(
    account: Account | None, command: Cancel, order_ids: OrderIds, now: datetime
) -> list[Event]:
    """Cancel an open order: a ``cancelled`` event, or a ``cancel_rejected`` that says why not."""
    with localcontext(EXACT):
        expired = expire(account, now) if account is not None else []
        try:
            _open_order(account, command.order_id, command.account_id, order_ids)
        except Rejected as rejection:
            return [*expired, _refused(command, OrderStatus.CANCEL_REJECTED, rejection, now)]
        assert account is not None
        resting = account.resting.pop(command.order_id)
        cancelled = ended(account, resting, OrderStatus.CANCELLED, now,
                           detail="cancelled by the trader")  # fmt: skip
        return [*expired, cancelled, *end_unprotected_entries(account, now)]


def replace_order(
    account: Account | None,
    command: Replace,
    market: Market,
    order_ids: OrderIds,
    now: datetime,
) -> list[Event]:
    """Change an open order: checked as a new order would be, on the account without the old
    one, and kept only if accepted; a ``replaced`` event (then its fill if it has become
    marketable), or a ``replace_rejected`` and the order as it was."""
    with localcontext(EXACT):
        expired = expire(account, now) if account is not None else []
        try:
            resting = _open_order(account, command.order_id, command.account_id, order_ids)
            assert account is not None
            refuse_when_stopped(account, market)
            old, progress = resting.order, resting.progress
            quantity = old.quantity
            if command.quantity is not None:
                # The new quantity is the order's whole, as at a venue: what filled stays filled.
                quantity = command.quantity - progress.filled
                if quantity <= 0:
                    raise Rejected(
                        Reason.INVALID_ORDER,
                        f"quantity {command.quantity} is not above the {progress.filled} "
                        "already filled",
                    )
            new = replace(
                old,
                quantity=quantity,
                limit_price=(
                    command.limit_price if command.limit_price is not None else old.limit_price
                ),
                trigger_price=(
                    command.trigger_price
                    if command.trigger_price is not None
                    else old.trigger_price
                ),
            )
            instrument = market.instrument(new.symbol)
            assert instrument is not None  # it rests on it
            check_well_formed(new, instrument)
            trial = copy_account(account)
            del trial.resting[new.order_id]
            placed = place(trial, new, instrument, market, now, progress)
        except Rejected as rejection:
            return [*expired, _refused(command, OrderStatus.REPLACE_REJECTED, rejection, now)]
        for name in (
            "cash", "peak_equity", "state", "failed", "fills", "positions", "resting", "evaluation"
        ):  # fmt: skip
            setattr(account, name, getattr(trial, name))
        changes = [
            f"{name} {before} -> {after}"
            for name, before, after in (
                ("quantity", old.quantity + progress.filled, new.quantity + progress.filled),
                ("limit_price", old.limit_price, new.limit_price),
                ("trigger_price", old.trigger_price, new.trigger_price),
            )
            if before != after
        ]
        detail = ", ".join(changes) or "unchanged"
        replaced = order_event(new.order_id, account.account_id, OrderStatus.REPLACED, now,
                                progress, new.quantity, detail=detail)  # fmt: skip
        return [*expired, replaced, *placed, *end_unprotected_entries(account, now)]


def _open_order(
    account: Account | None, order_id: str, account_id: str, order_ids: OrderIds
) -> RestingOrder:
    if account is None:
        raise Rejected(Reason.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
    resting = account.resting.get(order_id)
    if resting is not None:
        return resting
    if order_ids.get(order_id) is None and not _had_exits(account, order_id, order_ids):
        raise Rejected(Reason.UNKNOWN_ORDER, f"no order {order_id!r} on this account")
    raise Rejected(Reason.ORDER_CLOSED, f"order {order_id!r} is no longer open")


def _had_exits(account: Account, order_id: str, order_ids: OrderIds) -> bool:
    """Whether ``order_id`` is a bracket exit's id whose entry has filled (so it was placed):
    the engine's ids are not among the account's used order ids."""
    for exit_of in ("sl-", "tp-"):
        prefix = ENGINE_ID_PREFIX + exit_of
        if order_id.startswith(prefix):
            entry_id = order_id.removeprefix(prefix)
            entry = account.resting.get(entry_id)
            return order_ids.get(entry_id) is not None and (
                entry is None or bool(entry.progress.filled)
            )
    return False


def _refused(
    command: Cancel | Replace, status: OrderStatus, rejection: Rejected, now: datetime
) -> OrderEvent:
    return OrderEvent(
        command.order_id, command.account_id, status, now, rejection.reason, rejection.detail
    )
