"""Programs on the wire: an account's overrides merged over its program's rules, and inputs
that must be refused quickly and clearly."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from fillstream.core.model import DayStart, Session, Threshold, Trailing
from fillstream.wire.codec import BadMessage, decode
from fillstream.wire.inbound import AccountMessage
from fillstream.wire.programs import ProgramMessage, to_program

FTMO_LIKE = {
    "program_id": "ftmo-like",
    "time_zone": "Europe/Prague",
    "daily_loss": {"pct": "5"},
    "daily_loss_from": "higher",
    "max_loss": {"pct": "10"},
    "profit_target": {"pct": "10"},
    "min_trading_days": 4,
}


def test_overrides_replace_only_what_they_give() -> None:
    message = decode(ProgramMessage, json.dumps(FTMO_LIKE).encode())
    program = to_program(message, {"max_loss": {"amount": "7500"}, "max_open_orders": 20})
    assert program.day == Session(ZoneInfo("Europe/Prague"), time(0))
    assert program.daily_loss == Threshold(pct=D("5"))
    assert program.daily_loss_from is DayStart.HIGHER
    assert program.max_loss == Threshold(amount=D("7500"))
    assert program.max_loss_trailing is Trailing.STATIC
    assert (program.min_trading_days, program.max_open_orders) == (4, 20)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"time_zone": "1" * 5000}, "unknown time zone"),
        # Parsed as a decimal: as an int it would have a billion digits (minutes to build).
        ({"min_trading_days": 1.5}, "Input should be a valid integer"),
        ({"min_trading_days": "1e999999999"}, "Input should be a valid integer"),
        ({"max_open_orders": "3"}, "Input should be a valid integer"),
        ({"daily_loss": {"amount": "5", "pct": "1"}}, "give either amount or pct"),
        ({"daily_loss": {}}, "give either amount or pct"),
        ({"consistency_pct": "101"}, "less than or equal to 100"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(overrides: dict, error: str) -> None:
    account = {"account_id": "a", "starting_balance": "1000", "program_id": "p",
               "program_overrides": overrides}  # fmt: skip
    # A quoted "1e999999999" goes into the JSON unquoted: a number the codec reads as a decimal.
    raw = json.dumps(account).replace('"1e999999999"', "1e999999999").encode()
    with pytest.raises(BadMessage) as refused:
        decode(AccountMessage, raw)
    assert error in str(refused.value)
