"""The HTTP API: submit orders, read accounts, their orders and their trade history.

Any worker answers for any account: requests for an account are routed to the worker that owns
its partition of the account topics (Faust's ``topic_route``), which answers from its tables.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TopicT
from faust.web import Request, Response, View
from pydantic import ValidationError

from fillstream.auth import PRINCIPAL, Principal
from fillstream.core import engine, ledger, pricing, program
from fillstream.core.model import Account, Market, split_position_key
from fillstream.settings import Settings
from fillstream.sink.rows import TRADES
from fillstream.wire.codec import encode
from fillstream.wire.inbound import (
    CancelMessage,
    ControlRequest,
    FirmControlRequest,
    OrderMessage,
    ReplaceMessage,
)
from fillstream.wire.outbound import FillMessage
from fillstream.wire.times import format_time, parse_time
from fillstream.worker.app import App
from fillstream.worker.faust_adapter import fetch_partitions
from fillstream.worker.partition_state import WorkerState
from fillstream.worker.status import ViewHandler, timed
from fillstream.worker.tables import Tables, pair_key
from fillstream.worker.topics import Topics

KAFKA_SEND_TIMEOUT_SECONDS = 10.0
TRADES_LIMIT_MAX = 1000


def _error(view: View, status: int, message: str) -> Response:
    return view.json({"error": message}, status=status)


def _authorize(view: View, request: Request, account_id: str | None) -> Response | None:
    """A 403 response, or None when the request's key may go on (the app's middleware has
    already refused requests without a known key)."""
    principal: Principal = request[PRINCIPAL]  # type: ignore[index]
    if account_id is not None and not principal.may_access(account_id):
        return _error(view, 403, f"this key may not access account {account_id!r}")
    return None


def _field_errors(error: ValueError) -> list[dict]:
    if isinstance(error, ValidationError):
        return [
            {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False)
        ]
    return [{"loc": [], "msg": f"malformed JSON: {error}", "type": "json_invalid"}]


def register(
    app: App, settings: Settings, topics: Topics, tables: Tables, state: WorkerState
) -> None:
    orders = topics.orders.get_topic_name()

    def routed(handler: ViewHandler) -> ViewHandler:
        """To the worker that owns the account's partition (this one, or forwarded)."""
        to_owner = app.topic_route(topic=topics.orders, match_info="account_id")(handler)

        @wraps(handler)
        async def with_metadata(view: View, request: Request, **kwargs: Any) -> Response:
            await fetch_partitions(app, orders)
            return await to_owner(view, request, **kwargs)

        return with_metadata

    def partition_of(account_id: str) -> int:
        return app.producer.key_partition(orders, account_id.encode()).partition

    @app.page("/orders")
    class OrdersView(View):
        @timed("/orders")
        async def post(self, request: Request) -> Response:
            if denied := _authorize(self, request, None):
                return denied
            try:
                payload = json.loads(await request.read(), parse_float=Decimal)
                order = OrderMessage.model_validate(payload)
            except ValueError as error:
                return self.json({"errors": _field_errors(error)}, status=422)
            if denied := _authorize(self, request, order.account_id):
                return denied
            return await submit(self, order)

    async def submit(
        view: View, message: OrderMessage | CancelMessage | ReplaceMessage
    ) -> Response:
        """Onto ``orders`` like any upstream system's message; the answer comes on
        ``order-events`` (202: submitted, not yet checked)."""
        try:
            delivery = await topics.orders.send(
                key=message.account_id.encode(), value=encode(message)
            )
            await asyncio.wait_for(delivery, KAFKA_SEND_TIMEOUT_SECONDS)
        except (TimeoutError, KafkaError) as error:
            return _error(
                view, 503, f"Kafka unavailable, {message.action} not confirmed: {error!r}"
            )
        return view.json(
            {"order_id": message.order_id, "account_id": message.account_id,
             "action": message.action, "status": "submitted"},
            status=202,
        )  # fmt: skip

    @app.page("/accounts/{account_id}")
    class AccountView(View):
        @timed("/accounts/{account_id}")
        @routed
        async def get(self, request: Request, account_id: str) -> Response:
            if denied := _authorize(self, request, account_id):
                return denied
            partition = state.of(partition_of(account_id))
            account = partition.load(account_id)
            if account is None:
                return _error(self, 404, f"no account {account_id!r}")
            return self.json(_account_view(account, partition.market()))

    @app.page("/accounts/{account_id}/orders/{order_id}")
    class OrderStatusView(View):
        @timed("/accounts/{account_id}/orders/{order_id}")
        @routed
        async def get(self, request: Request, account_id: str, order_id: str) -> Response:
            if denied := _authorize(self, request, account_id):
                return denied
            status = tables.order_status.get(pair_key(account_id, order_id))
            if status is None:
                return _error(self, 404, f"no order {order_id!r} for account {account_id!r}")
            return self.json({"order_id": order_id, **status})

        @timed("/accounts/{account_id}/orders/{order_id}")
        async def delete(self, request: Request, account_id: str, order_id: str) -> Response:
            """Cancel the order."""
            if denied := _authorize(self, request, account_id):
                return denied
            try:
                cancel = CancelMessage(action="cancel", order_id=order_id, account_id=account_id)
            except ValidationError as error:
                return self.json({"errors": _field_errors(error)}, status=422)
            return await submit(self, cancel)

        @timed("/accounts/{account_id}/orders/{order_id}")
        async def patch(self, request: Request, account_id: str, order_id: str) -> Response:
            """Replace the order's quantity and/or limit price: body ``{"quantity"?,
            "limit_price"?}``."""
            if denied := _authorize(self, request, account_id):
                return denied
            try:
                payload = json.loads(await request.read(), parse_float=Decimal)
                if not isinstance(payload, dict):
                    raise ValueError("expected a JSON object")
                replace = ReplaceMessage.model_validate(
                    {**payload, "action": "replace", "order_id": order_id,
                     "account_id": account_id}
                )  # fmt: skip
            except ValueError as error:
                return self.json({"errors": _field_errors(error)}, status=422)
            return await submit(self, replace)

    async def send_control(
        view: View,
        request: Request,
        model: type[ControlRequest] | type[FirmControlRequest],
        given: dict[str, str],
        topic: TopicT,
        key: bytes,
    ) -> Response:
        """An operator's control (admin keys only), with the key that sent it as the operator:
        validated, produced and confirmed; its outcome is audited on ``risk-events``."""
        principal: Principal = request[PRINCIPAL]  # type: ignore[index]
        if not principal.admin:
            return _error(view, 403, "controls need an admin key")
        try:
            payload = json.loads(await request.read())
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            operator = f"api:{principal.key_id}"
            control = model.model_validate({**payload, **given, "operator": operator})
        except ValueError as error:
            return view.json({"errors": _field_errors(error)}, status=422)
        try:
            delivery = await topic.send(key=key, value=encode(control))
            await asyncio.wait_for(delivery, KAFKA_SEND_TIMEOUT_SECONDS)
        except (TimeoutError, KafkaError) as error:
            return _error(view, 503, f"Kafka unavailable, control not confirmed: {error!r}")
        answer = {**given, "action": control.action.value, "status": "submitted"}
        return view.json(answer, status=202)

    @app.page("/accounts/{account_id}/controls")
    class ControlsView(View):
        @timed("/accounts/{account_id}/controls")
        async def post(self, request: Request, account_id: str) -> Response:
            """One account's control: body ``{"action", "reason"?}``, applied in the
            account's order."""
            given = {"account_id": account_id}
            return await send_control(
                self, request, ControlRequest, given, topics.controls, account_id.encode()
            )

    @app.page("/controls")
    class FirmControlsView(View):
        @timed("/controls")
        async def post(self, request: Request) -> Response:
            """The kill switch: body ``{"action": "halt" | "reduce" | "resume" | "flatten",
            "reason"?}`` for every account at once; each partition audits it as it applies
            it."""
            return await send_control(
                self, request, FirmControlRequest, {}, topics.firm_controls, b"firm"
            )

    @app.page("/accounts/{account_id}/trades")
    class TradesView(View):
        """Trade history from ClickHouse, oldest first, by keyset pages on (ts, fill_id): a
        page never shifts when trades are inserted after it."""

        @timed("/accounts/{account_id}/trades")
        async def get(self, request: Request, account_id: str) -> Response:
            if denied := _authorize(self, request, account_id):
                return denied
            try:
                limit = int(request.query.get("limit", "100"))
                if not 1 <= limit <= TRADES_LIMIT_MAX:
                    raise ValueError
            except ValueError:
                return _error(self, 422, f"limit must be an integer from 1 to {TRADES_LIMIT_MAX}")
            try:
                after_ts, after_id = _decode_cursor(request.query.get("cursor"))
            except ValueError:
                return _error(self, 422, "cursor is not one this API returned")
            parameters = {"account": account_id, "after_ts": after_ts, "after_id": after_id,
                          "limit": limit}  # fmt: skip
            try:
                async with app.http_client.post(
                    f"{settings.sink_url}/sql",
                    json={"query": TRADES_QUERY, "parameters": parameters},
                    headers=_sink_headers(settings),
                ) as response:
                    answer = await response.json()
                    if response.status != 200:
                        return _error(
                            self, 503, f"trade history unavailable: {answer.get('error')}"
                        )
            except OSError as error:
                return _error(self, 503, f"trade history unavailable: {error!r}")
            rows = [dict(zip(answer["columns"], row, strict=True)) for row in answer["rows"]]
            next_cursor = (
                _encode_cursor(rows[-1]["ts"], rows[-1]["fill_id"]) if len(rows) == limit else None
            )
            trades = [_trade(row) for row in rows]
            return self.json({"trades": trades, "next_cursor": next_cursor})


def _account_view(account: Account, market: Market) -> dict:
    marks = pricing.marks_of(account, market)
    equity = ledger.equity(account, marks)
    positions = []
    for key, position in account.positions.items():
        symbol, outcome = split_position_key(key)
        entry = {
            "symbol": symbol,
            "quantity": format(position.quantity, "f"),
            "avg_price": format(position.avg_price, "f"),
            "last_price": format(marks[key], "f"),
            "unrealized_pnl": format(position.quantity * (marks[key] - position.avg_price), "f"),
        }
        if outcome:
            entry["outcome"] = outcome.value
        positions.append(entry)
    resting = []
    for resting_order in account.resting.values():
        order, progress = resting_order.order, resting_order.progress
        entry = {
            "order_id": order.order_id,
            "status": "partially_filled" if progress.filled else "accepted",
            "symbol": order.symbol,
            "side": order.side.value,
            "type": order.type.value,
            "quantity": format(order.quantity + progress.filled, "f"),
            "filled_quantity": format(progress.filled, "f"),
            "leaves_quantity": format(order.quantity, "f"),
            "time_in_force": order.time_in_force.value,
        }
        if progress.avg_price is not None:
            entry["avg_price"] = format(progress.avg_price, "f")
        for name in ("limit_price", "trigger_price"):
            if (price := getattr(order, name)) is not None:
                entry[name] = format(price, "f")
        if order.outcome:
            entry["outcome"] = order.outcome.value
        if order.expire_at:
            entry["expire_at"] = format_time(order.expire_at)
        resting.append(entry)
    return {
        "account_id": account.account_id,
        "status": account.state.value,
        "firm_status": market.trading.value,
        "cash": format(account.cash, "f"),
        "equity": format(equity, "f"),
        "peak_equity": format(account.peak_equity, "f"),
        "drawdown_pct": format(engine.drawdown_pct(account.peak_equity, equity), "f"),
        "positions": positions,
        "resting_orders": resting,
        **_program_view(account, market, equity),
    }


def _program_view(account: Account, market: Market, equity: Decimal) -> dict:
    """The account's evaluation program and where it stands against each rule, if it runs one
    (amounts as text, times on the wire's format)."""
    evaluation, rules = account.evaluation, market.program(account)
    if evaluation is None or rules is None:
        return {}

    def shown(value: object) -> object:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return format_time(value)
        if isinstance(value, dict):
            return {name: shown(item) for name, item in value.items()}
        return value

    return {"program": shown(program.standing(evaluation, account, rules, equity))}


TRADE_FIELDS = ("fill_id", "order_id", "symbol", "side", "outcome", "quantity", "price", "fee",
                "liquidity", "liquidation", "ts", "realized_pnl")  # fmt: skip
"""What a trade in the history shows: fields of the fills contract, as the sink stores them."""
assert set(TRADE_FIELDS) <= set(FillMessage.model_fields), "trade fields outside the contract"


def _selected(name: str) -> str:
    """Amounts and times as text, so they cross JSON exactly."""
    return f"toString({name}) AS {name}" if TRADES.column(name).textual_in_json else name


TRADES_QUERY = f"""
SELECT {", ".join(_selected(name) for name in TRADE_FIELDS)}
FROM (
    SELECT * FROM {TRADES.table} FINAL
    WHERE account_id = {{account:String}}
      AND (ts, fill_id) > (toDateTime64({{after_ts:String}}, 3, 'UTC'), {{after_id:String}})
    ORDER BY ts, fill_id
    LIMIT {{limit:UInt32}}
)
ORDER BY ts, fill_id
"""
"""A page is chosen on the stored columns, then shown under the contract's field names (the
text of a DateTime64(3) sorts as the time does)."""


def _sink_headers(settings: Settings) -> dict[str, str]:
    key = settings.sink_api_key
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}


def _trade(row: dict) -> dict:
    trade = dict(row)
    # ClickHouse's text of a DateTime64(3, 'UTC') is "YYYY-MM-DD hh:mm:ss.fff", in UTC.
    trade["ts"] = format_time(parse_time(trade["ts"].replace(" ", "T") + "Z"))
    if not trade["outcome"]:
        del trade["outcome"]
    return trade


def _encode_cursor(ts: str, fill_id: str) -> str:
    """The last trade's (ts, fill_id), as ClickHouse gave them, for the next page's query."""
    return base64.urlsafe_b64encode(json.dumps([ts, fill_id]).encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[str, str]:
    if not cursor:
        return "1970-01-01 00:00:00.000", ""
    try:
        ts, fill_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, json.JSONDecodeError, TypeError) as error:
        raise ValueError("bad cursor") from error
    return str(ts), str(fill_id)
