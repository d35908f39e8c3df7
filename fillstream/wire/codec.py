"""Bytes to models and back. Decimals are parsed exactly: JSON numbers never pass through float."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, RootModel, ValidationError

from fillstream.wire.outbound import DeadLetterMessage

Model = TypeVar("Model", bound=BaseModel)


class BadMessage(ValueError):
    """A message that is not what its topic's contract says; it goes to the dead letters."""


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def decode(model: type[Model], raw: bytes | None) -> Model:
    if raw is None:
        raise BadMessage("empty value (tombstone)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadMessage(f"value is not UTF-8: {error}") from None
    try:
        payload = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, ArithmeticError) as error:
        # ArithmeticError: a number Decimal cannot hold (an exponent past its range).
        raise BadMessage(f"malformed JSON: {error}") from None
    if not isinstance(payload, dict):
        raise BadMessage(f"expected a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        # A union of shapes (the orders topic's) puts the shape's tag first in every location.
        tagged = issubclass(model, RootModel)
        raise BadMessage(_describe(error, tagged)) from None


def _describe(error: ValidationError, tagged: bool = False) -> str:
    problems = []
    for item in error.errors(include_url=False):
        loc = item["loc"][1:] if tagged else item["loc"]
        problems.append(f"{'.'.join(str(part) for part in loc) or 'value'}: {item['msg']}")
    return "schema: " + "; ".join(problems)


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def _text_or_base64(raw: bytes | None) -> tuple[str | None, str]:
    if raw is None:
        return None, "utf-8"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    error: str,
    ts: datetime,
) -> DeadLetterMessage:
    key_text, key_encoding = _text_or_base64(key)
    value_text, value_encoding = _text_or_base64(value)
    return DeadLetterMessage(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key_text,
        key_encoding=key_encoding,
        value=value_text,
        value_encoding=value_encoding,
        error=error,
        ts=ts,
    )
