"""Writes the JSON Schema of every topic's messages: ``python -m fillstream.schemas.export DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from fillstream.schemas.inbound import AccountMessage, InstrumentMessage, OrderMessage, TickMessage
from fillstream.schemas.outbound import (
    DeadLetterMessage,
    FillMessage,
    OrderEventMessage,
    RiskEventMessage,
)

SCHEMAS: dict[str, Any] = {
    "instruments": InstrumentMessage,
    "accounts": AccountMessage,
    "ticks": TickMessage,
    "orders": OrderMessage,
    "fills": FillMessage,
    "order-events": OrderEventMessage,
    "risk-events": RiskEventMessage,
    "dead-letters": DeadLetterMessage,
}

INBOUND = {"instruments", "accounts", "ticks", "orders"}


def schema_documents() -> dict[str, str]:
    """File name to JSON text, one per topic."""
    documents = {}
    for topic, model in SCHEMAS.items():
        schema = TypeAdapter(model).json_schema(
            mode="validation" if topic in INBOUND else "serialization"
        )
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"fillstream/{topic}.json",
            "title": schema.pop("title", topic),
            **schema,
        }
        documents[f"{topic}.json"] = json.dumps(schema, indent=2, sort_keys=False) + "\n"
    return documents


def main(directory: str) -> None:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, text in schema_documents().items():
        (target / name).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")
