"""Evaluation programs on the wire: the compacted ``programs`` topic (key = program_id), and the
same rules as an account's overrides of its program's."""

from __future__ import annotations

from datetime import time
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fillstream.core.model import (
    HUNDRED,
    MAX_BALANCE,
    DayStart,
    Program,
    Session,
    Threshold,
    Trailing,
)
from fillstream.wire.types import Identifier, Money, bounded

Count = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
"""A JSON integer: strict, so 1e999999999 (a decimal) is refused, not turned into an int of a
billion digits."""


class ThresholdMessage(BaseModel):
    """An amount of money, or a percentage of the account's initial balance: one of the two."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Annotated[Money, bounded(MAX_BALANCE)] | None = None
    pct: Annotated[Money, bounded(HUNDRED)] | None = None

    @model_validator(mode="after")
    def _one_of_the_two(self) -> ThresholdMessage:
        if (self.amount is None) == (self.pct is None):
            raise ValueError("give either amount or pct")
        return self


class ProgramRules(BaseModel):
    """Every rule of a program, each optional: a program's own, or an account's overrides of
    its program's (a value given replaces the program's; null or absent keeps it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str | None = Field(None, description="IANA zone of the program day; default UTC.")
    day_starts_at: time | None = Field(
        None, description="Local time of the daily reset, HH:MM; default 00:00."
    )
    daily_loss: ThresholdMessage | None = None
    daily_loss_from: DayStart | None = Field(
        None, description="The day's start it is measured from; default balance."
    )
    daily_loss_pct_of_day_start: bool | None = Field(
        None, description="A pct daily loss is of the day's start, not the initial balance."
    )
    daily_loss_locks: bool | None = Field(
        None, description="Lock until the next reset instead of failing; default false."
    )
    max_loss: ThresholdMessage | None = None
    max_loss_trailing: Trailing | None = Field(None, description="Default static.")
    max_loss_stops_at_start: bool | None = None
    profit_target: ThresholdMessage | None = None
    min_trading_days: Annotated[int, Field(strict=True, ge=0, le=10_000)] | None = None
    max_days: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    consistency_pct: Annotated[Money, bounded(HUNDRED)] | None = None
    max_position_notional: Annotated[Money, bounded(MAX_BALANCE)] | None = None
    max_open_orders: Count | None = None
    max_orders_per_second: Count | None = None
    max_orders_per_minute: Count | None = None

    @field_validator("time_zone")
    @classmethod
    def _a_known_zone(cls, zone: str | None) -> str | None:
        # Checked against the list, never by opening a file named after the input.
        if zone is not None and zone not in _zones():
            raise ValueError(f"unknown time zone {zone[:64]!r}")
        return zone


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


class ProgramMessage(ProgramRules):
    """A program's rule set; topic ``programs``, compacted, key = program_id. A new version
    applies to its accounts from the moment each partition reads it."""

    program_id: Identifier


def to_program(message: ProgramMessage, overrides: dict[str, Any]) -> Program:
    """The program as the rules see it, with an account's overrides (as stored: JSON)."""
    merged = {
        **message.model_dump(exclude_none=True),
        **ProgramRules.model_validate(overrides).model_dump(exclude_none=True),
    }
    rules = ProgramMessage.model_validate(merged)

    def threshold(given: ThresholdMessage | None) -> Threshold | None:
        return None if given is None else Threshold(given.amount, given.pct)

    return Program(
        program_id=rules.program_id,
        day=Session(ZoneInfo(rules.time_zone or "UTC"), rules.day_starts_at or time(0)),
        daily_loss=threshold(rules.daily_loss),
        daily_loss_from=rules.daily_loss_from or DayStart.BALANCE,
        daily_loss_pct_of_day_start=bool(rules.daily_loss_pct_of_day_start),
        daily_loss_locks=bool(rules.daily_loss_locks),
        max_loss=threshold(rules.max_loss),
        max_loss_trailing=rules.max_loss_trailing or Trailing.STATIC,
        max_loss_stops_at_start=bool(rules.max_loss_stops_at_start),
        profit_target=threshold(rules.profit_target),
        min_trading_days=rules.min_trading_days or 0,
        max_days=rules.max_days,
        consistency_pct=rules.consistency_pct,
        max_position_notional=rules.max_position_notional,
        max_open_orders=rules.max_open_orders,
        max_orders_per_second=rules.max_orders_per_second,
        max_orders_per_minute=rules.max_orders_per_minute,
    )
