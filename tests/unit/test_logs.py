"""Log lines: one JSON object per line with the record's context, or text; secrets blanked."""

from __future__ import annotations

import json
import logging
import sys

from pydantic import SecretStr

from fillstream import logs
from fillstream.settings import Settings


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("fillstream.x", logging.WARNING, __file__, 1, message, args, None)
    made.created = 1_790_000_000.25
    made.__dict__.update(extra)
    return made


def test_a_json_line_carries_the_context_and_no_secret() -> None:
    settings = Settings(sink_api_key=SecretStr("s3cret-key"))
    line = logs.JsonLines(settings.redact).format(
        record("asked the sink with %s", "s3cret-key", account_id="ann", partition=2, offset=7)
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2026-09-21T14:13:20.250+00:00", "level": "warning", "logger": "fillstream.x",
        "message": "asked the sink with ***", "account_id": "ann", "partition": 2, "offset": 7,
    }  # fmt: skip


def test_an_exception_stays_on_its_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        made = record("failed")
        made.exc_info = sys.exc_info()
    (line,) = logs.JsonLines(lambda text: text).format(made).splitlines()
    assert json.loads(line)["error"].endswith("ValueError: bad\nthing")


def test_text_lines_are_redacted_too() -> None:
    settings = Settings(sink_api_key=SecretStr("s3cret-key"))
    line = logs.Redacted(settings.redact).format(record("key %s", "s3cret-key"))
    assert line.endswith("[WARNING] key ***") and "s3cret" not in line


def test_a_record_keyed_by_account_names_it() -> None:
    assert logs.about("p.orders", 3, 9, b"ann") == {
        "topic": "p.orders", "partition": 3, "offset": 9, "account_id": "ann"}  # fmt: skip
    assert logs.about("ticks", 0, 1, b"BTC") == {"topic": "ticks", "partition": 0, "offset": 1}
