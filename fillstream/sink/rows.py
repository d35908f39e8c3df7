"""Turns a batch of the output topics' JSON into an Arrow table, with each record's Kafka
coordinates.

Arrow because the insert was the sink's main cost: clickhouse-connect writes decimals one Python
object at a time, while Arrow converts whole columns in C (strings to decimal256 and timestamps)
and ClickHouse reads Arrow natively. A record that cannot become a row is refused loudly: logged
with its offset and counted in ``fillstream_sink_refused_rows_total``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Annotated, Any, get_args, get_origin

import orjson
import pyarrow as pa
from pydantic import AwareDatetime, BaseModel

from fillstream import metrics
from fillstream.wire import topics as contract
from fillstream.wire.outbound import (
    AccountStatusMessage,
    ControlMessage,
    DrawdownViolationMessage,
    EvaluationMessage,
    FillMessage,
    OrderEventMessage,
    ProgramMessageApplied,
)
from fillstream.wire.times import format_time, parse_time

logger = logging.getLogger(__name__)

TEXT = pa.string()
MONEY = pa.decimal256(76, 18)
TIME = pa.timestamp("ms", tz="UTC")
FLAG = pa.bool_()
SCALE = Decimal("1e-18")
# At most 18 decimal places, no exponent: Arrow takes these as they are.
PLAIN_MONEY = re.compile(r"-?\d{1,58}(\.\d{1,18})?")
WIDE = Context(prec=100)
# How the worker writes times (milliseconds, UTC, "Z"); anything else is parsed here first.
PLAIN_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z")


def money(value: Any) -> str | None:
    """Decimal(76, 18) holds 18 places; more are rounded half-even (the engine sends no more)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"money must be a string, got {value!r}")
    if PLAIN_MONEY.fullmatch(value):
        return value
    try:
        rounded = format(Decimal(value).quantize(SCALE, ROUND_HALF_EVEN, WIDE), "f")
    except InvalidOperation as error:
        raise ValueError(f"not a decimal that Decimal(76, 18) holds: {value!r}") from error
    if not PLAIN_MONEY.fullmatch(rounded):
        raise ValueError(f"more than 58 integer digits for Decimal(76, 18): {value!r}")
    return rounded


def timestamp(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"time must be a string, got {value!r}")
    if PLAIN_TIME.fullmatch(value):
        return value
    return format_time(parse_time(value))


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


@dataclass(frozen=True)
class Column:
    """A table column: a JSON field (or a value computed from the record) and its Arrow type."""

    name: str
    type: pa.DataType
    optional: bool = False
    compute: Callable[[dict], Any] | None = None

    @property
    def textual_in_json(self) -> bool:
        """Amounts and times are read back as text, so they cross JSON exactly."""
        return self.type in (MONEY, TIME)

    @property
    def nullable(self) -> bool:
        """Only optional amounts are Nullable in ClickHouse; a missing text is stored as ''."""
        return self.optional and self.type == MONEY

    def array(self, documents: list[dict]) -> pa.Array:
        """The whole column, converted and checked by Arrow: the fast path."""
        values = _array(self.raw(documents), self.type)
        if values.null_count and not self.nullable:
            raise ValueError(f"{self.name} is null")
        return values

    def raw(self, documents: list[dict]) -> list[Any]:
        """The values as the JSON has them, for Arrow to convert and check a column at once."""
        name = self.name
        if self.compute is not None:
            return [self.compute(document) for document in documents]
        if self.optional:
            default = "" if self.type == TEXT else None
            return [document.get(name, default) for document in documents]
        return [document[name] for document in documents]

    def checked(self, document: dict) -> Any:
        """One record's value, checked and normalised in Python: the slow path."""
        if self.compute is not None:
            return self.compute(document)
        value = document.get(self.name) if self.optional else document[self.name]
        if value is None and not self.optional:
            raise TypeError(f"{self.name} is null")
        if self.type == MONEY:
            return money(value)
        if self.type == TIME:
            return timestamp(value)
        if self.type == FLAG:
            if not isinstance(value, bool):
                raise TypeError(f"expected true or false, got {value!r}")
            return value
        return string("" if value is None else value)


def _notional(document: dict) -> str:
    product = WIDE.multiply(Decimal(document["quantity"]), Decimal(document["price"]))
    return format(product.quantize(SCALE, ROUND_HALF_EVEN, WIDE), "f")


class TableSpec:
    def __init__(self, table: str, columns: Sequence[Column]) -> None:
        self.table = table
        self.columns = list(columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def to_arrow(self, topic: str, partition: int, records: Sequence[Any]) -> pa.Table:
        """Records with ``offset`` and ``value``; one that does not parse is logged and left out.

        Whole columns are converted by Arrow; only if that fails (a record with a wrong type, a
        missing or null field, or money with more than 18 places) is each record checked on its
        own.
        """
        documents, offsets = [], []
        for record in records:
            try:
                documents.append(orjson.loads(record.value))
                offsets.append(record.offset)
            except orjson.JSONDecodeError as error:
                self._refuse(topic, partition, record.offset, error)
        try:
            columns = [column.array(documents) for column in self.columns]
        except (
            KeyError,
            TypeError,
            ValueError,
            ArithmeticError,
            AttributeError,
            pa.ArrowException,
        ):
            columns, offsets = self._checked(topic, partition, documents, offsets)
        table = pa.table(columns, names=[column.name for column in self.columns])
        table = table.append_column("kafka_topic", pa.array([topic] * len(offsets), TEXT))
        table = table.append_column(
            "kafka_partition", pa.array([partition] * len(offsets), pa.uint32())
        )
        return table.append_column("kafka_offset", pa.array(offsets, pa.uint64()))

    def _checked(self, topic: str, partition: int, documents: list, offsets: list):
        rows, kept = [], []
        for document, offset in zip(documents, offsets, strict=True):
            try:
                rows.append([column.checked(document) for column in self.columns])
                kept.append(offset)
            except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as error:
                self._refuse(topic, partition, offset, error)
        values: list[list[Any]] = (
            [list(column) for column in zip(*rows, strict=True)]
            if rows
            else [[] for _ in self.columns]
        )
        arrays = [_array(v, c.type) for c, v in zip(self.columns, values, strict=True)]
        return arrays, kept

    def _refuse(self, topic: str, partition: int, offset: int, error: Exception) -> None:
        logger.error("refused %s[%d]@%d for %s: %r", topic, partition, offset, self.table, error)
        metrics.SINK_REFUSED.labels(self.table).inc()


def _array(values: list[Any], type_: pa.DataType) -> pa.Array:
    if type_ in (MONEY, TIME):
        return pa.array(values, TEXT).cast(type_)
    return pa.array(values, type_)


def columns_of(*models: type[BaseModel]) -> list[Column]:
    """A column per field of the contract's models, typed by the field: amounts are Decimal,
    times DateTime64, flags Bool, the rest text. A field that some of the models (or their own
    definition) leave out is optional."""
    columns: dict[str, Column] = {}
    for model in models:
        for name, field in model.model_fields.items():
            if name in columns:
                continue
            required = field.is_required() and all(name in other.model_fields for other in models)
            columns[name] = Column(name, _arrow_type(field.annotation), optional=not required)
    return list(columns.values())


def _arrow_type(annotation: Any) -> pa.DataType:
    kinds = {
        get_args(arg)[0] if get_origin(arg) is Annotated else arg
        for arg in get_args(annotation)
        if arg is not type(None)
    } or {annotation}
    if kinds == {Decimal}:
        return MONEY
    if kinds <= {datetime, AwareDatetime}:
        return TIME
    if kinds == {bool}:
        return FLAG
    return TEXT


TRADES = TableSpec(
    "trades", [*columns_of(FillMessage), Column("notional", MONEY, compute=_notional)]
)
ORDERS = TableSpec("orders", columns_of(OrderEventMessage))
RISK_EVENTS = TableSpec(
    "risk_events",
    columns_of(
        AccountStatusMessage,
        DrawdownViolationMessage,
        ControlMessage,
        EvaluationMessage,
        ProgramMessageApplied,
    ),
)
TABLES = {contract.FILLS: TRADES, contract.ORDER_EVENTS: ORDERS, contract.RISK_EVENTS: RISK_EVENTS}
"""The table each output topic is stored in, its columns derived from the topic's models."""
