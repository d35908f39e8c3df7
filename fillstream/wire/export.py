"""Writes the JSON Schema of every topic's messages: ``python -m fillstream.wire.export DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import TypeAdapter

from fillstream.settings import Settings
from fillstream.wire.topics import CONTRACT


def default_name(name: str) -> str:
    """A topic's name without prefix or override: what the contract documents."""
    return Settings.model_fields[f"topic_{name}"].default


def schema_documents() -> dict[str, str]:
    """File name to JSON text, one per topic."""
    documents = {}
    for contract in CONTRACT:
        topic = default_name(contract.name)
        schema = TypeAdapter(contract.model).json_schema(
            mode="validation" if contract.inbound else "serialization"
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
