"""Field types of the wire: exact decimals (strings out, strings or numbers in) and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, WithJsonSchema
from pydantic.fields import FieldInfo

from fillstream.core.model import EXACT, PLACES
from fillstream.wire.times import format_time

_DECIMAL_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"},
        {"type": "number"},
    ],
    "description": "Exact decimal; emitted as a string in fixed-point notation.",
}


def _canonical(value: Decimal) -> str:
    """Fixed point without trailing zeros, so that equal amounts are equal text ("5", not
    "5.0" from 4.5 + 0.5), whatever sum made them."""
    return format(value.normalize(EXACT), "f")


Money = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(_canonical, return_type=str, when_used="json"),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
"""Any exact quantity, price or amount."""


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range once in UTC") from None


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""ISO-8601 with a zone; normalised to UTC, emitted with millisecond precision and a Z."""

Symbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,64}$")]
Identifier = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,128}$")]
"""Any printable text: table keys are built so that no two ids can meet (tables.pair_key)."""


def bounded(largest: Decimal) -> FieldInfo:
    """Above 0 and at most ``largest``, with at most PLACES decimal places: what the engine
    computes with exactly and the analyst columns hold."""
    return Field(gt=0, le=largest, decimal_places=PLACES)


def rate(largest: Decimal, *, strict: bool = False) -> FieldInfo:
    """Zero or more, at most ``largest`` (below it if strict), with at most PLACES places."""
    if strict:
        return Field(ge=0, lt=largest, decimal_places=PLACES)
    return Field(ge=0, le=largest, decimal_places=PLACES)
