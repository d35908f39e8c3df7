"""The level index against brute force: on random markets, accounts, programs and orders, an
engine that runs only the accounts `LevelIndex` says a tick touches must emit exactly the events
of one that marks every holder on every tick, and leave every account exactly as it does.

The default run is short enough for every CI run; ``make prove`` runs it longer
(FILLSTREAM_PROPERTY_STEPS), and docs/topics.md records the result.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fillstream.core import commands, controls, engine, levels, pricing, triggers
from fillstream.core.controls import Action, Control
from fillstream.core.events import Event
from fillstream.core.model import (
    ONE,
    Account,
    AccountLimits,
    Cancel,
    Evaluation,
    InMemoryOrderIds,
    Instrument,
    Kind,
    Market,
    Order,
    OrderType,
    Outcome,
    Quote,
    Replace,
    Resolution,
    Result,
    Side,
    TimeInForce,
    copy_account,
)
from tests.unit.core.strategies import programs, sizes, spreads

STEPS = int(os.environ.get("FILLSTREAM_PROPERTY_STEPS", "6000"))
STEPS_PER_CASE = 50
COUNTED = {"steps": 0, "touched": 0, "holders": 0}
ACCOUNTS = ["a1", "a2", "a3"]
SYMBOLS = ["BTC", "ETH", "PRES"]
quantities = st.sampled_from(["0.5", "1", "3", "10", "40"])
fees = st.sampled_from(["0", "1", "2.5", "10"])
moves = st.sampled_from(["-0.2", "-0.03", "-0.005", "-0.0001", "0", "0.0001", "0.005", "0.03"])
pauses = st.sampled_from([1, 1, 1, 60, 3600, 6 * 3600])


def instrument(symbol: str, kind: Kind, draw) -> Instrument:
    """Fees and slippage low enough that accounts live long with positions, near their
    floors rather than past them at the first fill."""
    tick = draw(st.sampled_from([None, "0.01"]))
    return Instrument(
        symbol, kind, D(draw(fees)), D(draw(fees)), D(draw(fees)), tick and D(tick), None
    )


class World:
    """One copy of the accounts with their order ids, run one way or the other."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self.accounts = accounts
        self.order_ids = {account_id: InMemoryOrderIds() for account_id in accounts}


class IndexAgainstBruteForce(RuleBasedStateMachine):
    @initialize(data=st.data())
    def open(self, data: st.DataObject) -> None:
        draw = data.draw
        self.instruments = {
            "BTC": instrument("BTC", Kind.CRYPTO, draw),
            "ETH": instrument("ETH", Kind.CRYPTO, draw),
            "PRES": instrument("PRES", Kind.PREDICTION, draw),
        }
        self.prices = {"BTC": D("100"), "ETH": D("0.37"), "PRES": D("0.5")}
        self.quotes: dict[str, Quote] = {}
        self.resolutions: dict[str, Resolution] = {}
        rules = {account_id: draw(st.one_of(st.none(), programs)) for account_id in ACCOUNTS}
        self.market = Market(
            self.instruments.get, self.prices.get, self.quotes.get, self.resolutions.get,
            program=lambda account: rules[account.account_id],
        )  # fmt: skip
        accounts = {}
        for account_id in ACCOUNTS:
            limits = AccountLimits(
                D(draw(st.sampled_from(["1", "2", "5"]))),
                D(draw(st.sampled_from(["50", "100", "400"]))),
                D(draw(st.sampled_from(["0.5", "2", "10", "100"]))),
            )
            account = engine.open_account(account_id, D("10000"), limits)
            if rules[account_id] is not None:
                account.evaluation = Evaluation("p")
            accounts[account_id] = account
        self.brute = World(accounts)
        self.indexed = World({k: copy_account(v) for k, v in accounts.items()})
        self.index = levels.LevelIndex()
        self.clock = datetime(2026, 3, 7, 20, tzinfo=UTC)
        self.sequence = 0

    def _both(self, account_id: str, act) -> None:
        """The same step on the same account in both worlds: the same events."""
        COUNTED["steps"] += 1
        brute = act(self.brute.accounts[account_id], self.brute.order_ids[account_id])
        indexed = act(self.indexed.accounts[account_id], self.indexed.order_ids[account_id])
        assert indexed == brute, (indexed, brute)
        self._relevel(account_id)

    def _relevel(self, account_id: str) -> None:
        self.index.set(account_id, levels.levels(self.indexed.accounts[account_id], self.market))

    @rule(symbol=st.sampled_from(SYMBOLS), move=moves, spread=spreads, size=sizes,
          bid_size=sizes, ask_size=sizes, pause=pauses)  # fmt: skip
    def tick(
        self, symbol: str, move: str, spread: str | None, size: str | None,
        bid_size: str | None, ask_size: str | None, pause: int,
    ) -> None:  # fmt: skip
        self._tick(symbol, move, spread, size, bid_size, ask_size, pause)

    @rule(pick=st.integers(0, 8), moves=st.lists(moves, min_size=1, max_size=8),
          spread=spreads, pause=pauses)  # fmt: skip
    def ticks_of_held(self, pick: int, moves: list[str], spread: str | None, pause: int) -> None:
        """A run of ticks of a symbol someone holds or rests on: most of the search's ticks."""
        held = sorted(set().union(*(levels.watched(a) for a in self.brute.accounts.values())))
        if held:
            for move in moves:
                self._tick(held[pick % len(held)], move, spread, None, None, None, pause)

    def _tick(
        self, symbol: str, move: str, spread: str | None, size: str | None,
        bid_size: str | None, ask_size: str | None, pause: int,
    ) -> None:  # fmt: skip
        if symbol in self.resolutions:
            return
        COUNTED["steps"] += 1
        price = (self.prices[symbol] * (ONE + D(move))).quantize(D("0.000001"))
        if self.instruments[symbol].kind is Kind.PREDICTION:
            price = min(max(price, D("0.0001")), D("0.9999"))
        price = max(price, D("0.000001"))
        self.prices[symbol] = price
        self.quotes.pop(symbol, None)
        bid = ask = None
        if spread is not None:
            bid, ask = price * (ONE - D(spread)), price * (ONE + D(spread))
            if self.instruments[symbol].kind is Kind.PREDICTION and ask >= ONE:
                ask = None
        if bid is not None or size is not None:
            self.quotes[symbol] = Quote(
                bid,
                ask,
                bid_size and D(bid_size) if bid is not None else None,
                ask_size and D(ask_size) if ask is not None else None,
                size and D(size),
            )
        self.clock += timedelta(seconds=pause)
        now = self.clock
        holders = [a for a in ACCOUNTS if symbol in levels.watched(self.brute.accounts[a])]
        brute: list[Event] = []
        for account_id in holders:
            brute += engine.on_tick(self.brute.accounts[account_id], symbol, self.market, now)
        touched = self.index.touched(symbol, levels.seen(self.market, symbol), now)
        assert set(touched) <= set(holders), (touched, holders)
        indexed: list[Event] = []
        for account_id in touched:
            indexed += engine.on_tick(self.indexed.accounts[account_id], symbol, self.market, now)
            self._relevel(account_id)
        COUNTED["touched"] += len(touched)
        COUNTED["holders"] += len(holders)
        assert indexed == brute, (touched, holders, indexed, brute)

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        quantity=quantities,
        outcome=st.sampled_from(Outcome),
        limit_move=st.sampled_from([None, None, "-0.05", "-0.01", "-0.001", "0.001", "0.01"]),
        tif=st.sampled_from(["gtc", "gtc", "ioc", "gtd", "day"]),
        lifetime=st.sampled_from([5, 600, 86400]),
        flags=st.sampled_from(["", "", "reduce_only", "bracket"]),
    )
    def order(
        self, account_id: str, symbol: str, side: Side, quantity: str, outcome: Outcome,
        limit_move: str | None, tif: str, lifetime: int, flags: str,
    ) -> None:  # fmt: skip
        prediction = self.instruments[symbol].kind is Kind.PREDICTION
        limit = None
        if limit_move is not None:
            limit = self._limit(symbol, self._reference(symbol, outcome) * (ONE + D(limit_move)))
        if limit is None and tif in ("gtd", "day"):
            tif = "gtc"
        self.sequence += 1
        bracket = {}
        if flags == "bracket":
            reference = self._reference(symbol, outcome)
            up = self._limit(symbol, reference * D("1.02"))
            down = self._limit(symbol, reference * D("0.98"))
            bracket = (
                {"take_profit_price": up, "stop_loss_price": down}
                if side is Side.BUY
                else {"take_profit_price": down, "stop_loss_price": up}
            )
        order = Order(
            f"o{self.sequence}", account_id, symbol, side,
            OrderType.MARKET if limit is None else OrderType.LIMIT, D(quantity),
            outcome if prediction else None, limit, time_in_force=TimeInForce(tif),
            expire_at=self.clock + timedelta(seconds=lifetime) if tif == "gtd" else None,
            reduce_only=flags == "reduce_only", **bracket,
        )  # fmt: skip
        self._submit(order)

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        quantity=quantities,
        outcome=st.sampled_from(Outcome),
        kind=st.sampled_from(
            [t for t in OrderType if t not in (OrderType.MARKET, OrderType.LIMIT)]
        ),
        away=st.sampled_from(["0.0005", "0.005", "0.05"]),
    )
    def waiting_order(
        self, account_id: str, symbol: str, side: Side, quantity: str, outcome: Outcome,
        kind: OrderType, away: str,
    ) -> None:  # fmt: skip
        prediction = self.instruments[symbol].kind is Kind.PREDICTION
        reference = self._reference(symbol, outcome)
        up = (side is Side.BUY) == (kind in triggers.STOPS)
        trigger = self._limit(symbol, reference * (ONE + D(away) if up else ONE - D(away)))
        trailing = kind in triggers.TRAILING
        self.sequence += 1
        order = Order(
            f"o{self.sequence}", account_id, symbol, side, kind, D(quantity),
            outcome if prediction else None,
            trigger if kind in (OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED) else None,
            trigger_price=None if trailing else trigger,
            trailing_offset=abs(trigger - reference) or D("0.01") if trailing else None,
            limit_offset=D("0.01") if kind is OrderType.TRAILING_STOP_LIMIT else None,
        )  # fmt: skip
        self._submit(order)

    def _submit(self, order: Order) -> None:
        self.clock += timedelta(seconds=1)
        now, offset = self.clock, self.sequence
        self._both(
            order.account_id,
            lambda account, order_ids: engine.submit_order(
                account, order, self.market, order_ids=order_ids, now=now, offset=offset,
                duplicate_window=timedelta(hours=1),
            ),
        )  # fmt: skip

    def _reference(self, symbol: str, outcome: Outcome) -> D:
        instrument = self.instruments[symbol]
        chosen = outcome if instrument.kind is Kind.PREDICTION else None
        return pricing.outcome_price(instrument, self.prices[symbol], chosen)

    def _limit(self, symbol: str, limit: D) -> D:
        instrument = self.instruments[symbol]
        if instrument.tick_size:
            limit = (limit / instrument.tick_size).to_integral_value() * instrument.tick_size
        if instrument.kind is Kind.PREDICTION:
            return min(max(limit, D("0.0001")), D("0.9999"))
        return max(limit, D("0.01"))

    @rule(account_id=st.sampled_from(ACCOUNTS), pick=st.integers(min_value=0, max_value=40))
    def cancel(self, account_id: str, pick: int) -> None:
        self.clock += timedelta(seconds=1)
        command, now = Cancel(f"o{pick}", account_id), self.clock
        self._both(account_id, lambda account, ids: commands.cancel(account, command, ids, now))

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        pick=st.integers(min_value=0, max_value=40),
        move=st.sampled_from(["-0.01", "0.001", "0.01"]),
    )
    def replace(self, account_id: str, pick: int, move: str) -> None:
        resting = self.indexed.accounts[account_id].resting.get(f"o{pick}")
        limit = trigger = None
        if resting is not None:
            order = resting.order
            if order.limit_price is not None:
                limit = self._limit(order.symbol, order.limit_price * (ONE + D(move)))
            elif order.trigger_price is not None:
                trigger = self._limit(order.symbol, order.trigger_price * (ONE + D(move)))
        self.clock += timedelta(seconds=1)
        command = Replace(f"o{pick}", account_id, None if limit or trigger else ONE, limit, trigger)
        now = self.clock
        self._both(
            account_id,
            lambda account, ids: commands.replace_order(account, command, self.market, ids, now),
        )

    @rule(
        account_id=st.sampled_from(ACCOUNTS), when=st.integers(0, 4), action=st.sampled_from(Action)
    )
    def control(self, account_id: str, when: int, action: Action) -> None:
        if when:
            return
        self.clock += timedelta(seconds=1)
        command, now = Control(account_id, action, operator="desk"), self.clock
        self._both(
            account_id, lambda account, _: controls.apply(account, command, self.market, now)
        )

    @rule(when=st.integers(0, 9), result=st.sampled_from(Result))
    def resolve(self, when: int, result: Result) -> None:
        if when or "PRES" in self.resolutions:
            return
        payout = D("0.37") if result is Result.SPLIT else None
        resolution = self.resolutions["PRES"] = Resolution("PRES", result, payout)
        self.clock += timedelta(seconds=1)
        now = self.clock
        for account_id in ACCOUNTS:
            if "PRES" in levels.watched(self.brute.accounts[account_id]):
                self._both(
                    account_id,
                    lambda account, _: engine.settle(account, resolution, self.market, now),
                )

    @invariant()
    def the_accounts_are_the_same(self) -> None:
        for account_id in ACCOUNTS:
            assert self.indexed.accounts[account_id] == self.brute.accounts[account_id]


IndexAgainstBruteForce.TestCase.settings = settings(
    max_examples=max(2 * STEPS // STEPS_PER_CASE, 1),
    stateful_step_count=STEPS_PER_CASE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestLevelIndex(IndexAgainstBruteForce.TestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        share = COUNTED["touched"] / max(COUNTED["holders"], 1)
        print(
            f"\nlevel index = brute force over {COUNTED['steps']} steps; ticks touched"
            f" {COUNTED['touched']} of {COUNTED['holders']} holders ({share:.0%})"
        )
