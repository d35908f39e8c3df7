"""The wire contract: exact decimals both ways, and published schemas that match the models."""

from decimal import Decimal
from pathlib import Path

import pytest

from fillstream.wire.codec import BadMessage, decode
from fillstream.wire.export import schema_documents
from fillstream.wire.inbound import OrderCommand, OrderMessage

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_published_json_schemas_match_the_models() -> None:
    documents = schema_documents()
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(documents)
    for name, text in documents.items():
        assert (SCHEMA_DIR / name).read_text() == text, f"regenerate with `make schemas`: {name}"


def test_json_numbers_are_parsed_exactly() -> None:
    raw = (
        b'{"order_id": "o", "account_id": "a", "symbol": "BTC", "side": "buy", "type": "limit",'
        b' "quantity": 12345678901234567890.123456789, "limit_price": 0.1}'
    )
    order = decode(OrderMessage, raw)
    assert order.quantity == Decimal("12345678901234567890.123456789")
    assert order.limit_price == Decimal("0.1")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[1, 2]", "expected a JSON object, got list"),
        (b'{"order_id": "o"} trailing', "malformed JSON: Extra data: line 1 column 19 (char 18)"),
        (None, "empty value (tombstone)"),
    ],
)
def test_bad_values_say_why(raw: bytes | None, error: str) -> None:
    with pytest.raises(BadMessage) as caught:
        decode(OrderMessage, raw)
    assert str(caught.value) == error


def test_timestamps_are_normalised_to_utc_and_emitted_with_z() -> None:
    raw = (
        b'{"order_id": "o", "account_id": "a", "symbol": "BTC", "side": "buy", "type": "market",'
        b' "quantity": "1", "ts": "2026-05-01T14:30:00+02:00"}'
    )
    order = decode(OrderMessage, raw)
    assert order.model_dump(mode="json")["ts"] == "2026-05-01T12:30:00.000Z"


def test_order_commands_name_the_field_at_fault_without_the_shapes_tag() -> None:
    typo = (b'{"order_id": "a", "account_id": "b", "symbol": "X", "side": "buy",'
            b' "type": "market", "quantity": "1", "limit_prise": "1"}')  # fmt: skip
    for raw, error in [
        (typo, "schema: limit_prise: Extra inputs are not permitted"),
        (b'{"action": "cancel", "order_id": "a"}', "schema: account_id: Field required"),
        (b'{"action": "replace", "order_id": "a", "account_id": "b"}', "schema: value: Value "
         "error, a replace needs a new quantity, limit_price or trigger_price"),
    ]:  # fmt: skip
        with pytest.raises(BadMessage) as raised:
            decode(OrderCommand, raw)
        assert str(raised.value) == error
