"""An account's state as a JSON document: exact decimals as strings, so the changelog is exact.

Beside the account itself the document holds how far each source partition has been applied to
it and the outputs its last change owes (see `checkpoint`): written in one changelog record, so
a crash can never keep one without the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fillstream.core.model import (
    Account,
    AccountLimits,
    Evaluation,
    OffsetType,
    Order,
    OrderType,
    Outcome,
    Position,
    Progress,
    RestingOrder,
    SeenOrder,
    Side,
    TimeInForce,
    TradingState,
)


@dataclass(frozen=True)
class Output:
    """One message to publish: identical bytes whenever it is sent again."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    """Only for the router's fan-out; an account's outputs go by their key."""

    def dump(self) -> list[str | None]:
        key = self.key.decode() if self.key is not None else None
        return [self.topic, key, self.value.decode()]

    @classmethod
    def load(cls, item: list[str | None]) -> Output:
        topic, key, value = item
        assert topic is not None and value is not None
        return cls(topic, key.encode() if key is not None else None, value.encode())


@dataclass
class StoredAccount:
    """An account with what the worker keeps beside it in the same document."""

    account: Account
    applied: dict[str, int] = field(default_factory=dict)
    """Source (``topic#partition``, and the router's ``ticks#q``) -> last offset applied."""
    outbox: list[Output] = field(default_factory=list)
    """The outputs of the last batch that changed the account."""
    owed_for: dict[str, int] = field(default_factory=dict)
    """The records (``topic#partition`` -> offset) the outbox comes from: it is owed until the
    progress of each is stored past them."""

    def has_applied(self, source: str, offset: int) -> bool:
        return self.applied.get(source, -1) >= offset


def dump_stored(stored: StoredAccount) -> dict[str, Any]:
    return {
        **dump_account(stored.account),
        "applied": stored.applied,
        "outbox": [output.dump() for output in stored.outbox],
        "owed_for": stored.owed_for,
    }


def load_stored(document: dict[str, Any]) -> StoredAccount:
    return StoredAccount(
        load_account(document),
        dict(document.get("applied", {})),
        [Output.load(item) for item in document.get("outbox", [])],
        dict(document.get("owed_for", {})),
    )


def dump_account(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "starting_balance": str(account.starting_balance),
        "cash": str(account.cash),
        "peak_equity": str(account.peak_equity),
        "max_leverage": str(account.limits.max_leverage),
        "max_order_pct": str(account.limits.max_order_pct),
        "max_drawdown_pct": str(account.limits.max_drawdown_pct),
        "state": account.state.value,
        "failed": account.failed,
        "fills": account.fills,
        "positions": {
            key: {"quantity": str(position.quantity), "cost": str(position.cost)}
            for key, position in account.positions.items()
        },
        "resting": [_dump_resting(resting) for resting in account.resting.values()],
        **({"evaluation": _dump_evaluation(account.evaluation)} if account.evaluation else {}),
    }


def load_account(document: dict[str, Any]) -> Account:
    resting = [_load_resting(item, document["account_id"]) for item in document["resting"]]
    return Account(
        account_id=document["account_id"],
        starting_balance=Decimal(document["starting_balance"]),
        cash=Decimal(document["cash"]),
        peak_equity=Decimal(document["peak_equity"]),
        limits=AccountLimits(
            max_leverage=Decimal(document["max_leverage"]),
            max_order_pct=Decimal(document["max_order_pct"]),
            max_drawdown_pct=Decimal(document["max_drawdown_pct"]),
        ),
        # Documents from before trading states held only "halted": a drawdown halt.
        state=TradingState(document.get("state", "halted" if document.get("halted") else "active")),
        failed=document.get("failed", bool(document.get("halted"))),
        fills=document.get("fills", 0),
        positions={key: _load_position(item) for key, item in document["positions"].items()},
        resting={item.order.order_id: item for item in resting},
        evaluation=_load_evaluation(document["evaluation"]) if "evaluation" in document else None,
    )


_EVALUATION_AMOUNTS = (
    "day_start_balance", "day_start_equity", "high_water", "eod_high_water", "best_day"
)  # fmt: skip


def _dump_evaluation(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "program_id": evaluation.program_id,
        "overrides": evaluation.overrides,
        "started": evaluation.started.isoformat() if evaluation.started else None,
        "day": evaluation.day.isoformat() if evaluation.day else None,
        **{name: str(getattr(evaluation, name)) for name in _EVALUATION_AMOUNTS},
        "days_traded": evaluation.days_traded,
        "last_traded": evaluation.last_traded.isoformat() if evaluation.last_traded else None,
        "outcome": evaluation.outcome,
        "locked": evaluation.locked,
        "orders": [t.isoformat() for t in evaluation.orders],
    }


def _load_evaluation(item: dict[str, Any]) -> Evaluation:
    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    return Evaluation(
        program_id=item["program_id"],
        overrides=item["overrides"],
        started=datetime.fromisoformat(item["started"]) if item["started"] else None,
        day=day(item["day"]),
        **{name: Decimal(item[name]) for name in _EVALUATION_AMOUNTS},
        days_traded=item["days_traded"],
        last_traded=day(item["last_traded"]),
        outcome=item["outcome"],
        locked=item["locked"],
        orders=[datetime.fromisoformat(t) for t in item["orders"]],
    )


def _load_position(item: dict[str, str] | list[str]) -> Position:
    """Documents written before the exact cost basis held [quantity, average price]."""
    if isinstance(item, list):
        quantity, avg_price = (Decimal(value) for value in item)
        return Position(quantity, quantity * avg_price)
    return Position(Decimal(item["quantity"]), Decimal(item["cost"]))


def _dump_resting(resting: RestingOrder) -> dict[str, Any]:
    order = resting.order
    return {
        "order_id": order.order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": str(order.quantity),
        "outcome": order.outcome.value if order.outcome else None,
        "limit_price": _text(order.limit_price),
        "trigger_price": _text(order.trigger_price),
        "trailing_offset": _text(order.trailing_offset),
        "trailing_offset_type": order.trailing_offset_type.value,
        "limit_offset": _text(order.limit_offset),
        "take_profit_price": _text(order.take_profit_price),
        "stop_loss_price": _text(order.stop_loss_price),
        "oco_with": order.oco_with,
        "fee_bps": str(resting.fee_bps),
        "time_in_force": order.time_in_force.value,
        "expire_at": order.expire_at.isoformat() if order.expire_at else None,
        "post_only": order.post_only,
        "reduce_only": order.reduce_only,
        "filled": str(resting.progress.filled),
        "filled_value": str(resting.progress.value),
    }


def _load_resting(item: dict[str, Any], account_id: str) -> RestingOrder:
    order = Order(
        order_id=item["order_id"],
        account_id=account_id,
        symbol=item["symbol"],
        side=Side(item["side"]),
        type=OrderType(item["type"]),
        quantity=Decimal(item["quantity"]),
        outcome=Outcome(item["outcome"]) if item["outcome"] else None,
        limit_price=_decimal(item.get("limit_price")),
        trigger_price=_decimal(item.get("trigger_price")),
        trailing_offset=_decimal(item.get("trailing_offset")),
        trailing_offset_type=OffsetType(item.get("trailing_offset_type", "price")),
        limit_offset=_decimal(item.get("limit_offset")),
        take_profit_price=_decimal(item.get("take_profit_price")),
        stop_loss_price=_decimal(item.get("stop_loss_price")),
        oco_with=item.get("oco_with"),
        time_in_force=TimeInForce(item.get("time_in_force", "gtc")),
        expire_at=datetime.fromisoformat(item["expire_at"]) if item.get("expire_at") else None,
        post_only=item.get("post_only", False),
        reduce_only=item.get("reduce_only", False),
    )
    progress = Progress(Decimal(item.get("filled", "0")), Decimal(item.get("filled_value", "0")))
    return RestingOrder(order, Decimal(item["fee_bps"]), progress)


def _text(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def dump_seen(seen: SeenOrder) -> list[Any]:
    return [seen.ts.isoformat(), seen.offset]


def load_seen(document: list[Any]) -> SeenOrder:
    return SeenOrder(datetime.fromisoformat(document[0]), document[1])
