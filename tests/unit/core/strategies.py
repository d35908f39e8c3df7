"""Strategies shared by the core's property searches: instruments, fees, sizes and evaluation
programs at limits small enough to be met."""

from __future__ import annotations

from datetime import time
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from fillstream.core.model import (
    DayStart,
    Instrument,
    Kind,
    Program,
    Session,
    Threshold,
    Trailing,
)

thresholds = st.one_of(
    st.builds(Threshold, amount=st.sampled_from([D("1"), D("50"), D("500")])),
    st.builds(Threshold, pct=st.sampled_from([D("0.1"), D("2"), D("10")])),
)
programs = st.builds(
    Program,
    program_id=st.just("p"),
    day=st.sampled_from([Session(), Session(ZoneInfo("America/New_York"), time(17))]),
    daily_loss=st.one_of(st.none(), thresholds),
    daily_loss_from=st.sampled_from(DayStart),
    daily_loss_pct_of_day_start=st.booleans(),
    daily_loss_locks=st.booleans(),
    max_loss=st.one_of(st.none(), thresholds),
    max_loss_trailing=st.sampled_from(Trailing),
    max_loss_stops_at_start=st.booleans(),
    profit_target=st.one_of(st.none(), thresholds),
    min_trading_days=st.integers(min_value=0, max_value=2),
    max_days=st.one_of(st.none(), st.just(1)),
    consistency_pct=st.one_of(st.none(), st.just(D("50"))),
    max_position_notional=st.one_of(st.none(), st.sampled_from([D("100"), D("10000")])),
    max_open_orders=st.one_of(st.none(), st.integers(min_value=1, max_value=3)),
    max_orders_per_minute=st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
)
"""Evaluation programs: every rule on or off, at limits small enough to be met."""

FEES = ["0", "1", "2.5", "10", "100", "9999", "10000"]
fees = st.sampled_from(FEES)
slippages = st.sampled_from(FEES[:-1])
quantities = st.sampled_from(["0.001", "0.1", "1", "3", "7.5", "10", "333", "100000"])
spreads = st.sampled_from([None, None, "0.0001", "0.01", "0.1"])
sizes = st.sampled_from([None, "0.1", "1", "5"])


def instrument(symbol: str, kind: Kind, draw) -> Instrument:
    tick = draw(st.sampled_from([None, "0.01", "0.5"] if kind is Kind.CRYPTO else [None, "0.01"]))
    lot = draw(st.sampled_from([None, "0.1"]))
    return Instrument(
        symbol,
        kind,
        D(draw(fees)),
        D(draw(fees)),
        D(draw(slippages)),
        tick and D(tick),
        lot and D(lot),
    )
