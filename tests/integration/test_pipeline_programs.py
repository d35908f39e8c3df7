"""Evaluation programs through the real broker and a worker process: a daily-loss breach by a
price move alone, a soft daily lock lifted at a 17:00 New York reset, a pass on the day the
minimum trading days are met, the order-rate throttle, and each account's standing in the API.
Ticks start at 12:00 UTC on 1 March 2026 (13:00 in Prague, 07:00 in New York)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fillstream.wire.times import format_time
from tests.pipeline import Pipeline

FTMO_LIKE = {
    "program_id": "ftmo-like", "time_zone": "Europe/Prague",
    "daily_loss": {"pct": "5"}, "daily_loss_from": "higher",
    "max_loss": {"pct": "10"}, "profit_target": {"pct": "10"}, "min_trading_days": 2,
}  # fmt: skip
EOD_NEW_YORK = {
    "program_id": "eod-ny", "time_zone": "America/New_York", "day_starts_at": "17:00",
    "daily_loss": {"amount": "50"}, "daily_loss_locks": True,
    "max_loss": {"amount": "100"}, "max_loss_trailing": "end_of_day",
    "max_loss_stops_at_start": True,
}  # fmt: skip


def decisions(outputs: dict[str, list[dict]]) -> list[tuple[str, ...]]:
    return [
        (e["account_id"], e["outcome"], e["rule"], e["threshold"], e["measured"])
        for e in outputs["risk_events"]
        if e["type"] == "evaluation" and e["outcome"] != "day_closed"
    ]


def closed_days(outputs: dict[str, list[dict]]) -> list[tuple[str, ...]]:
    return sorted(
        (e["account_id"], e["day"], e["threshold"], e["measured"], e["detail"])
        for e in outputs["risk_events"]
        if e["type"] == "evaluation" and e["outcome"] == "day_closed"
    )


async def test_programs_decide_breaches_locks_and_passes(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:

        async def order(account_id: str, order_id: str, side: str, quantity: str, **extra: str):
            # Orders carry the market's time, so the program days follow the ticks.
            await p.order(account_id, order_id, "BTC", side, quantity,
                          ts=format_time(p.tick_time), **extra)  # fmt: skip
            return [(e["status"], e.get("reason")) for e in await p.order_events(order_id)]

        await p.instrument("BTC")
        await p.send("programs", "ftmo-like", FTMO_LIKE)
        await p.send("programs", "eod-ny", EOD_NEW_YORK)
        await p.send("programs", "bad", {"program_id": "bad", "time_zone": "Mars/Olympus"})
        for account_id, program in (("ann", "ftmo-like"), ("bob", "ftmo-like"),
                                    ("cat", "eod-ny")):  # fmt: skip
            await p.account(account_id, "2000", program_id=program)
        await p.account("dan", "2000", program_id="ftmo-like",
                        program_overrides={"max_orders_per_minute": 2})  # fmt: skip
        await p.wait_until(lambda: "program" in (p.http("/accounts/dan") or {}))
        await p.tick("BTC", "100")

        # Ann: a daily loss of 5 % of 2 000 = 100, breached by the price alone.
        assert await order("ann", "a1", "buy", "10") == [("accepted", None), ("filled", None)]
        await p.tick("BTC", "89.9")  # 101 down from 2 000 (the larger of balance and equity)
        # Bob and Cat buy 10 at 100; a drop to 94 costs Cat 60 of her 50 (she is locked).
        await p.tick("BTC", "100")
        await order("bob", "b1", "buy", "10")
        await order("cat", "c1", "buy", "10")
        await p.tick("BTC", "94")
        assert await order("cat", "c2", "buy", "1") == [("rejected", "ACCOUNT_HALTED")]
        # Bob sells at 120: +200, the target, on his first trading day only.
        await p.tick("BTC", "120")
        await order("bob", "b2", "sell", "10")
        view = p.api("GET", "/accounts/bob")[1]
        assert view["program"]["profit_target"] == {"target": "200", "profit": "200",
                                                    "remaining": "0"}  # fmt: skip
        assert (view["program"]["outcome"], view["program"]["days_traded"]) == (None, 1)
        # Dan's override allows two orders a minute.
        for order_id in ("d1", "d2"):  # they rest
            await p.order("dan", order_id, "BTC", "buy", "1", limit_price="50",
                          ts=format_time(p.tick_time))  # fmt: skip
        assert await order("dan", "d3", "buy", "1", limit_price="50") == [
            ("rejected", "ORDER_RATE_LIMIT")]  # fmt: skip

        # 23:00 UTC: midnight in Prague (Bob's second day), 18:00 in New York (Cat's reset).
        await p.tick("BTC", "120", after=timedelta(hours=11))
        await order("bob", "b3", "buy", "1")
        await order("bob", "b4", "sell", "1")
        assert await order("cat", "c3", "buy", "1") == [("accepted", None), ("filled", None)]

        outputs = await p.wait_for(lambda o: len(decisions(o)) == 4 and len(closed_days(o)) == 3)
        assert decisions(outputs) == [
            ("ann", "failed", "daily_loss", "100", "101"),
            ("cat", "locked", "daily_loss", "50", "60"),
            ("bob", "passed", "profit_target", "200", "200"),
            ("cat", "unlocked", "daily_loss", "0", "0"),
        ]
        # The first day closed for each account still evaluated and marked after the resets:
        # its starting and ending equity (Cat's at her first order of the new day).
        assert closed_days(outputs) == [
            ("bob", "2026-03-01", "2000", "2200", "2026-03-01: +200"),
            ("cat", "2026-03-01", "2000", "1940", "2026-03-01: -60"),
            ("dan", "2026-03-01", "2000", "2000", "2026-03-01: +0"),
        ]
        closes = sorted(
            (f["account_id"], f["quantity"], f["price"])
            for f in outputs["fills"] if f["order_id"].startswith("~liquidation")
        )  # fmt: skip
        assert closes == [("ann", "10", "89.9"), ("cat", "10", "94")]
        statuses = [(e["account_id"], e["status"], e["reason"]) for e in outputs["risk_events"]
                    if e["type"] == "account_status" and e["reason"] != "opened"]  # fmt: skip
        assert statuses == [
            ("ann", "halted", "daily_loss"), ("cat", "halted", "daily_loss"),
            ("bob", "closed", "passed"), ("cat", "active", "daily_loss_reset"),
        ]  # fmt: skip
        # Each partition audits each program it applied, with its rules.
        audits = sorted((e["program_id"], e["detail"]) for e in outputs["risk_events"]
                        if e["type"] == "program")  # fmt: skip
        assert [program_id for program_id, _ in audits] == ["eod-ny"] * 4 + ["ftmo-like"] * 4
        assert audits[4][1].startswith("partition 0: ")
        assert json.loads(audits[4][1].removeprefix("partition 0: ")) == FTMO_LIKE
        (dead,) = outputs["dead_letters"]
        assert dead["error"] == "schema: time_zone: Value error, unknown time zone 'Mars/Olympus'"

        ann = p.api("GET", "/accounts/ann")[1]
        assert (ann["status"], ann["program"]["outcome"]) == ("halted", "failed")
        bob = p.api("GET", "/accounts/bob")[1]
        assert (bob["status"], bob["program"]["outcome"], bob["program"]["days_traded"]) == (
            "closed", "passed", 2)  # fmt: skip
        cat = p.api("GET", "/accounts/cat")[1]
        # Cat's day (New York, from 17:00) is named after the date it ends on.
        assert (cat["status"], cat["program"]["day"], cat["program"]["locked"]) == (
            "active", "2026-03-02", False)  # fmt: skip
        # The end-of-day floor: her balance at the reset (1 940) is below the start, so the
        # highest balance at a day's end is still 2 000; less 100.
        assert cat["program"]["max_loss"] == {"floor": "1900", "distance": "40"}  # equity 1 940


INTRADAY = {"program_id": "intraday", "max_loss": {"amount": "100"},
            "max_loss_trailing": "intraday", "max_loss_stops_at_start": True}  # fmt: skip
END_OF_DAY = {"program_id": "eod", "time_zone": "America/New_York", "day_starts_at": "17:00",
              "max_loss": {"amount": "100"}, "max_loss_trailing": "end_of_day"}  # fmt: skip
STEADY = {"program_id": "steady", "profit_target": {"amount": "150"}, "consistency_pct": "50"}


async def test_trailing_floors_consistency_and_a_reset_across_daylight_saving(
    kafka_bootstrap: str, unique_id: str, data_dir: Path, tmp_path: Path
) -> None:
    async with Pipeline(kafka_bootstrap, unique_id, data_dir, tmp_path / "worker.log") as p:

        async def order(account_id: str, order_id: str, side: str, quantity: str) -> None:
            await p.order(account_id, order_id, "BTC", side, quantity, ts=format_time(p.tick_time))
            await p.order_events(order_id)

        await p.instrument("BTC")
        for program in (INTRADAY, END_OF_DAY, STEADY):
            await p.send("programs", program["program_id"], program)
        for account_id, program_id in (("ivy", "intraday"), ("eli", "eod"), ("sue", "steady")):
            await p.account(account_id, "2000", program_id=program_id)
        await p.wait_until(lambda: "program" in (p.http("/accounts/sue") or {}))

        # 1 March, 12:00 UTC: all three buy 10 at 100.
        await p.tick("BTC", "100")
        for account_id in ("ivy", "eli", "sue"):
            await order(account_id, f"{account_id}-1", "buy", "10")
        # At 115, Ivy's intraday floor would be 2 150 - 100: it stops at the start, 2 000.
        # Eli and Sue sell: +150 each, Eli's balance 2 150 (the floor stays 1 900 today).
        await p.tick("BTC", "115")
        await order("eli", "eli-2", "sell", "10")
        await order("sue", "sue-2", "sell", "10")  # the target, all of it one day: no pass
        await p.tick("BTC", "99.9")  # Ivy: 1 999, below 2 000

        # 8 March, 20:59 UTC: 16:59 in New York, where clocks went forward this morning.
        await p.tick("BTC", "100", after=datetime(2026, 3, 8, 20, 59, tzinfo=UTC) - p.tick_time)
        await order("eli", "eli-3", "buy", "10")  # Eli's day rolls: end-of-day high 2 150
        await order("sue", "sue-3", "buy", "10")
        # 21:01 UTC is 17:01 in New York (EDT): Eli's next day starts (it would not in EST).
        await p.tick("BTC", "115", after=timedelta(minutes=2))
        await order("sue", "sue-4", "sell", "10")  # +150 today: 150 of 300 is 50 %: passed
        await p.tick("BTC", "89.9")  # Eli: 1 150 + 899 = 2 049, below 2 150 - 100

        outputs = await p.wait_for(lambda o: len(decisions(o)) == 3 and len(closed_days(o)) == 3)
        assert decisions(outputs) == [
            ("ivy", "failed", "max_loss", "2000", "1999"),
            ("sue", "passed", "profit_target", "150", "300"),
            ("eli", "failed", "max_loss", "2050", "2049"),
        ]
        assert closed_days(outputs) == [
            ("eli", "2026-03-01", "2000", "2150", "2026-03-01: +150"),
            ("eli", "2026-03-08", "2150", "2300", "2026-03-08: +150"),
            ("sue", "2026-03-01", "2000", "2150", "2026-03-01: +150"),
        ]
        closing = [e for e in outputs["risk_events"]
                   if e["type"] == "evaluation" and e.get("day") == "2026-03-08"]  # fmt: skip
        assert [e["ts"] for e in closing] == ["2026-03-08T21:01:00.000Z"]
