"""Ticks from a file (CSV with a header, or Parquet) with columns symbol, price, ts."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path


def read_ticks(path: Path) -> Iterator[tuple[str, str, datetime]]:
    """(symbol, price as text, ts) in file order; prices keep their exact text."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=["symbol", "price", "ts"])
        for row in table.to_pylist():
            yield row["symbol"], str(row["price"]), _timestamp(row["ts"])
        return
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            yield row["symbol"], row["price"], _timestamp(row["ts"])


def _timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def replay_messages(path: Path, speed: float) -> Iterator[tuple[str, bytes, float | None]]:
    """(key, value, seconds after the first tick to send it at; None: as fast as possible).

    ``speed`` 1 keeps the original pace, 10 plays ten times faster, 0 sends as fast as possible.
    """
    first: datetime | None = None
    for symbol, price, ts in read_ticks(path):
        first = first or ts
        due = (ts - first).total_seconds() / speed if speed > 0 else None
        stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        value = f'{{"symbol":"{symbol}","price":"{price}","ts":"{stamp}"}}'
        yield symbol, value.encode(), due
