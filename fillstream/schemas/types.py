"""Field types of the wire: exact decimals (strings out, strings or numbers in) and UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer, WithJsonSchema

_DECIMAL_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"},
        {"type": "number"},
    ],
    "description": "Exact decimal; emitted as a string in fixed-point notation.",
}

Money = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema(_DECIMAL_SCHEMA),
]
"""Any exact quantity, price or amount."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(
        lambda value: value.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        return_type=str,
        when_used="json",
    ),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""ISO-8601 with a zone; normalised to UTC, emitted with millisecond precision and a Z."""

Symbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,64}$")]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]
