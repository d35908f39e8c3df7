"""The risk invariants, searched for counterexamples: random instruments, accounts, ticks and
orders of every type, side and time in force, cancels and replaces, with the invariants checked
after every step.

The default run is short enough for every CI run. ``make prove`` runs at least 100 000 steps
(FILLSTREAM_PROPERTY_STEPS); docs/topics.md records the result.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from fillstream.core import (
    buying_power,
    commands,
    controls,
    engine,
    ledger,
    pricing,
    program,
    triggers,
)
from fillstream.core.controls import Action, Control
from fillstream.core.events import (
    TERMINAL,
    EvaluationDecided,
    Event,
    Fill,
    OrderEvent,
    OrderStatus,
)
from fillstream.core.model import (
    EXACT,
    ONE,
    ZERO,
    AccountLimits,
    Cancel,
    Evaluation,
    InMemoryOrderIds,
    Kind,
    Liquidity,
    Market,
    Order,
    OrderType,
    Outcome,
    Quote,
    Reason,
    Replace,
    Resolution,
    Result,
    Side,
    TimeInForce,
    TradingState,
    copy_account,
    position_key,
    rounded,
    split_position_key,
)
from tests.unit.core.strategies import (
    instrument,
    programs,
    quantities,
    sizes,
    spreads,
)

STEPS = int(os.environ.get("FILLSTREAM_PROPERTY_STEPS", "4000"))
STEPS_PER_CASE = 40
STEPS_RUN = [0]

crypto_prices = st.sampled_from(["0.000001", "0.37", "1", "99.5", "100", "101.25", "20000.37"])
prediction_prices = st.sampled_from(["0.0001", "0.01", "0.33", "0.5", "0.77", "0.99", "0.9999"])


class Trading(RuleBasedStateMachine):
    @initialize(data=st.data())
    def open(self, data: st.DataObject) -> None:
        draw = data.draw
        self.instruments = {
            "BTC": instrument("BTC", Kind.CRYPTO, draw),
            "ETH": instrument("ETH", Kind.CRYPTO, draw),
            "PRES": instrument("PRES", Kind.PREDICTION, draw),
        }
        self.prices: dict[str, D] = {"BTC": D("100"), "ETH": D("0.37"), "PRES": D("0.5")}
        self.quotes: dict[str, Quote] = {}
        self.resolutions: dict[str, Resolution] = {}
        rules = draw(st.one_of(st.none(), st.none(), programs))
        self.market = Market(
            self.instruments.get, self.prices.get, self.quotes.get, self.resolutions.get,
            program=lambda account: rules,
        )  # fmt: skip
        limits = AccountLimits(
            D(draw(st.sampled_from(["0.5", "1", "2", "5"]))),
            D(draw(st.sampled_from(["10", "50", "100", "400"]))),
            D(draw(st.sampled_from(["5", "50", "100"]))),
        )
        self.starting = D(draw(st.sampled_from(["100", "1000", "10000"])))
        self.account = engine.open_account("acc-1", self.starting, limits)
        if rules is not None:
            self.account.evaluation = Evaluation("p")
        self.decided: list[EvaluationDecided] = []
        self.order_ids = InMemoryOrderIds()
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.sequence = 0
        self.fills: list[Fill] = []
        self.fill_ids: set[str] = set()
        self.ever_short = False
        self.open_orders: set[str] = set()
        self.ended: set[str] = set()
        self.filled: dict[str, tuple[D, D]] = {}
        """Per order, the quantity and value of its fills."""
        self.state_before = self.account.state
        """The account's trading state when the current step began."""

    def _step(self) -> datetime:
        STEPS_RUN[0] += 1
        self.state_before = self.account.state
        self.clock += timedelta(seconds=1)
        return self.clock

    def _absorb(self, events: list[Event]) -> None:
        self.decided += [e for e in events if isinstance(e, EvaluationDecided)]
        for event in events:
            if isinstance(event, OrderEvent):
                self._check_lifecycle(event)
            if isinstance(event, Fill):
                self._check_fill(event)
                self.fills.append(event)
                self.ever_short |= event.position_quantity < 0
                quantity, value = self.filled.get(event.order_id, (ZERO, ZERO))
                self.filled[event.order_id] = (
                    quantity + event.quantity, value + event.quantity * event.price
                )  # fmt: skip

    def _check_lifecycle(self, event: OrderEvent) -> None:
        """Accepted once, then at most one terminal event; replaced only while open."""
        order_id, status = event.order_id, event.status
        assert order_id not in self.ended or status in (
            OrderStatus.CANCEL_REJECTED,
            OrderStatus.REPLACE_REJECTED,
        ), (event, "after the order ended")
        if status is OrderStatus.ACCEPTED:
            assert order_id not in self.open_orders, event
            self.open_orders.add(order_id)
        elif status in TERMINAL:
            self.open_orders.discard(order_id)
            self.ended.add(order_id)
        elif status in (
            OrderStatus.REPLACED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED
        ):  # fmt: skip
            assert order_id in self.open_orders, event
        self._check_progress(event)

    def _check_progress(self, event: OrderEvent) -> None:
        """What an order event says has filled is what its fills add up to; an ended order
        leaves nothing open, a partly filled one something."""
        if event.status in (OrderStatus.CANCEL_REJECTED, OrderStatus.REPLACE_REJECTED):
            assert event.filled_quantity is None and event.leaves_quantity is None, event
            return
        if event.order_id.startswith("~liquidation"):
            return
        quantity, value = self.filled.get(event.order_id, (ZERO, ZERO))
        assert event.filled_quantity == quantity, (event, quantity)
        average = rounded(value / quantity) if quantity else None
        assert event.avg_price == average, (event, average)
        assert event.leaves_quantity is not None
        if event.status in TERMINAL:
            assert event.leaves_quantity == 0, event
        else:
            assert event.leaves_quantity > 0, event

    def _check_fill(self, fill: Fill) -> None:
        assert fill.fill_id not in self.fill_ids, f"fill id {fill.fill_id} repeated"
        self.fill_ids.add(fill.fill_id)
        kind = self.instruments[fill.symbol].kind
        if fill.liquidity is Liquidity.SETTLEMENT:
            # A payout: 0 to 1 (a void market's average cost is inside), without a fee.
            assert 0 <= fill.price <= ONE and fill.fee == 0, fill
        else:
            assert fill.price > 0, fill
            if kind is Kind.PREDICTION:
                assert fill.price < ONE, fill
        assert fill.fee >= 0 and fill.quantity > 0
        if fill.liquidity is Liquidity.SETTLEMENT or fill.order_id.startswith("~liquidation"):
            return
        # A halted or closed account trades no more; a reducing one only toward zero.
        assert self.state_before in (TradingState.ACTIVE, TradingState.REDUCING), fill
        if self.state_before is TradingState.REDUCING:
            signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
            before, after = fill.position_quantity - signed, fill.position_quantity
            assert abs(after) < abs(before) and after * before >= 0, fill

    @rule(
        symbol=st.sampled_from(["BTC", "ETH"]),
        price=crypto_prices,
        spread=spreads,
        size=sizes,
        bid_size=sizes,
        ask_size=sizes,
    )
    def crypto_tick(
        self, symbol: str, price: str, spread: str | None, size: str | None,
        bid_size: str | None, ask_size: str | None,
    ) -> None:  # fmt: skip
        self._tick(symbol, D(price), spread, size, bid_size, ask_size)

    @rule(price=prediction_prices, spread=spreads, size=sizes, bid_size=sizes, ask_size=sizes)
    def prediction_tick(
        self, price: str, spread: str | None, size: str | None, bid_size: str | None,
        ask_size: str | None,
    ) -> None:  # fmt: skip
        self._tick("PRES", D(price), spread, size, bid_size, ask_size)

    def _tick(
        self, symbol: str, price: D, spread: str | None, size: str | None,
        bid_size: str | None, ask_size: str | None,
    ) -> None:  # fmt: skip
        """A last price, and maybe a quote around it and sizes (a YES ask stays below 1)."""
        self.prices[symbol] = price
        bid = ask = None
        if spread is not None:
            bid, ask = price * (ONE - D(spread)), price * (ONE + D(spread))
            if self.instruments[symbol].kind is Kind.PREDICTION and ask >= ONE:
                ask = None
        self.quotes.pop(symbol, None)
        if bid is not None or size is not None:
            self.quotes[symbol] = Quote(
                bid,
                ask,
                bid_size and D(bid_size) if bid is not None else None,
                ask_size and D(ask_size) if ask is not None else None,
                size and D(size),
            )
        now = self._step()
        events = engine.fill_resting(self.account, symbol, self.market, now)
        self._absorb(events + engine.mark(self.account, self.market, now))

    @rule(
        symbol=st.sampled_from(["BTC", "ETH", "PRES"]),
        side=st.sampled_from(Side),
        quantity=quantities,
        outcome=st.sampled_from(Outcome),
        limit_move=st.sampled_from([None, "-0.5", "-0.01", "0", "0.01", "0.5"]),
        tif=st.sampled_from(["gtc", "gtc", "ioc", "fok", "gtd", "day"]),
        lifetime=st.integers(min_value=1, max_value=20),
        flags=st.sampled_from(["", "", "post_only", "reduce_only", "bracket"]),
    )
    def order(
        self,
        symbol: str,
        side: Side,
        quantity: str,
        outcome: Outcome,
        limit_move: str | None,
        tif: str,
        lifetime: int,
        flags: str,
    ) -> None:
        instrument = self.instruments[symbol]
        prediction = instrument.kind is Kind.PREDICTION
        limit = None
        if limit_move is not None:
            reference = self._reference(symbol, outcome)
            limit = self._limit(symbol, reference * (ONE + D(limit_move)))
        if limit is None and tif in ("gtd", "day"):
            tif = "gtc"
        self.sequence += 1
        order = Order(
            f"o{self.sequence}",
            "acc-1",
            symbol,
            side,
            OrderType.MARKET if limit is None else OrderType.LIMIT,
            D(quantity),
            outcome if prediction else None,
            limit,
            time_in_force=TimeInForce(tif),
            # Ticks and orders advance the clock a second each.
            expire_at=self.clock + timedelta(seconds=lifetime) if tif == "gtd" else None,
            post_only=flags == "post_only",
            reduce_only=flags == "reduce_only",
            **(self._bracket(symbol, side, outcome) if flags == "bracket" else {}),
        )
        self._submit(order)

    @rule(
        symbol=st.sampled_from(["BTC", "ETH", "PRES"]),
        side=st.sampled_from(Side),
        quantity=quantities,
        outcome=st.sampled_from(Outcome),
        kind=st.sampled_from(
            [t for t in OrderType if t not in (OrderType.MARKET, OrderType.LIMIT)]
        ),
        away=st.sampled_from(["0.001", "0.01", "0.1", "0.5"]),
        reduce_only=st.booleans(),
    )
    def waiting_order(
        self,
        symbol: str,
        side: Side,
        quantity: str,
        outcome: Outcome,
        kind: OrderType,
        away: str,
        reduce_only: bool,
    ) -> None:
        """Stops, if-touched and trailing orders: no way around buying power either, placed
        or triggered."""
        prediction = self.instruments[symbol].kind is Kind.PREDICTION
        reference = self._reference(symbol, outcome)
        # Stops wait beyond the market in the side's direction, if-touched orders before it.
        up = (side is Side.BUY) == (kind in triggers.STOPS)
        trigger = self._limit(symbol, reference * (ONE + D(away) if up else ONE - D(away)))
        trailing = kind in triggers.TRAILING
        self.sequence += 1
        order = Order(
            f"o{self.sequence}",
            "acc-1",
            symbol,
            side,
            kind,
            D(quantity),
            outcome if prediction else None,
            trigger if kind in (OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED) else None,
            trigger_price=None if trailing else trigger,
            trailing_offset=abs(trigger - reference) or D("0.01") if trailing else None,
            limit_offset=D("0.01") if kind is OrderType.TRAILING_STOP_LIMIT else None,
            reduce_only=reduce_only,
        )
        self._submit(order)

    def _reference(self, symbol: str, outcome: Outcome) -> D:
        """The price of what an order on ``symbol`` buys (``outcome`` counts for predictions)."""
        instrument = self.instruments[symbol]
        chosen = outcome if instrument.kind is Kind.PREDICTION else None
        return pricing.outcome_price(instrument, self.prices[symbol], chosen)

    def _bracket(self, symbol: str, side: Side, outcome: Outcome) -> dict[str, D]:
        reference = self._reference(symbol, outcome)
        up, down = (
            self._limit(symbol, reference * D("1.05")),
            self._limit(symbol, reference * D("0.95")),
        )
        if side is Side.BUY:
            return {"take_profit_price": up, "stop_loss_price": down}
        return {"take_profit_price": down, "stop_loss_price": up}

    def _submit(self, order: Order) -> None:
        """Submit, then check buying power if it was accepted and grows its position."""
        growth = buying_power.growth(self.account, order)
        events = engine.submit_order(
            self.account,
            order,
            self.market,
            order_ids=self.order_ids,
            now=self._step(),
            offset=self.sequence,
            duplicate_window=timedelta(hours=1),
        )
        self._absorb(events)
        statuses = [e.status for e in events if isinstance(e, OrderEvent)]
        if statuses[0] is OrderStatus.REJECTED or not growth or self.account.halted:
            return
        committed = buying_power.commitment(self.account, self._marks())
        assert not committed.exceeded, (order, committed)
        if order.outcome is not None and order.side is Side.BUY:
            assert committed.free_cash >= 0, (order, committed)

    def _limit(self, symbol: str, limit: D) -> D:
        instrument = self.instruments[symbol]
        if instrument.tick_size:
            limit = (limit / instrument.tick_size).to_integral_value() * instrument.tick_size
        if instrument.kind is Kind.PREDICTION:
            return min(max(limit, D("0.0001")), D("0.9999"))
        return max(limit, D(1))

    @rule(
        when=st.integers(min_value=0, max_value=9),
        result=st.sampled_from(Result),
        yes_payout=st.sampled_from(["0.0001", "0.37", "0.5", "0.9999"]),
    )
    def resolve(self, when: int, result: Result, yes_payout: str) -> None:
        """Now and then (not at once, so the market trades first), the prediction market
        resolves: nothing of it stays open, and it takes no more orders."""
        if when or "PRES" in self.resolutions:
            return
        payout = D(yes_payout) if result is Result.SPLIT else None
        resolution = self.resolutions["PRES"] = Resolution("PRES", result, payout)
        self._absorb(engine.settle(self.account, resolution, self.market, self._step()))
        assert not [key for key in self.account.positions if key.startswith("PRES:")]
        assert not [r for r in self.account.resting.values() if r.order.symbol == "PRES"]

    @rule(when=st.integers(min_value=0, max_value=5), action=st.sampled_from(Action))
    def control(self, when: int, action: Action) -> None:
        """Now and then an operator halts, resumes, flattens or closes the account, or lets
        it only reduce."""
        if when:
            return
        before = self.account.state
        command = Control("acc-1", action, operator="desk")
        self._absorb(controls.apply(self.account, command, self.market, self._step()))
        state = self.account.state
        if before is TradingState.CLOSED or (self.account.failed and action in (
            Action.RESUME, Action.REDUCE
        )):  # fmt: skip
            assert state is before
        elif action in (Action.HALT, Action.CLOSE):
            assert not self.account.resting
        if action in (Action.FLATTEN, Action.CLOSE) and before is not TradingState.CLOSED:
            assert not self.account.positions, self.account.positions

    @rule(pick=st.integers(min_value=0, max_value=50))
    def cancel(self, pick: int) -> None:
        """An open order, or one that has ended, or one never used."""
        order_id = f"o{pick}"
        was_open = order_id in self.account.resting
        events = commands.cancel(
            self.account, Cancel(order_id, "acc-1"), self.order_ids, self._step()
        )
        self._absorb(events)
        mine = [e.status for e in events if isinstance(e, OrderEvent) and e.order_id == order_id]
        if was_open and order_id in self.account.resting:
            raise AssertionError(("a cancel left the order open", events))
        assert mine[-1] in (OrderStatus.CANCELLED, OrderStatus.CANCEL_REJECTED, OrderStatus.EXPIRED)

    @rule(
        pick=st.integers(min_value=0, max_value=50),
        quantity=st.one_of(st.none(), quantities),
        limit_move=st.sampled_from([None, "-0.5", "-0.01", "0.01", "0.5"]),
    )
    def replace(self, pick: int, quantity: str | None, limit_move: str | None) -> None:
        """Replacing an order is no way around buying power."""
        order_id = f"o{pick}"
        resting = self.account.resting.get(order_id)
        limit = trigger = None
        if resting is not None and limit_move is not None:
            order = resting.order
            if order.limit_price is not None:
                limit = self._limit(order.symbol, order.limit_price * (1 + D(limit_move)))
            elif order.trigger_price is not None:
                trigger = self._limit(order.symbol, order.trigger_price * (1 + D(limit_move)))
        if quantity is None and limit is None and trigger is None:
            quantity = "1"
        command = Replace(order_id, "acc-1", quantity and D(quantity), limit, trigger)
        events = commands.replace_order(
            self.account, command, self.market, self.order_ids, self._step()
        )
        self._absorb(events)
        statuses = [e.status for e in events if isinstance(e, OrderEvent)]
        if OrderStatus.REPLACED in statuses and not self.account.halted:
            replaced = self.account.resting.get(order_id)
            if replaced is not None:
                without = copy_account(self.account)
                del without.resting[order_id]
                if buying_power.growth(without, replaced.order):
                    committed = buying_power.commitment(self.account, self._marks())
                    assert not committed.exceeded, (command, committed)
                    if replaced.order.outcome is not None and replaced.order.side is Side.BUY:
                        assert committed.free_cash >= 0, (command, committed)

    @rule()
    def reduce_only_is_never_trapped(self) -> None:
        """Closing part of a position is never refused for funds, whatever the account holds."""
        if self.account.halted:
            return
        for key, position in self.account.positions.items():
            symbol, outcome = split_position_key(key)
            side = Side.SELL if position.quantity > 0 else Side.BUY
            quantity = abs(position.quantity)
            order = Order("probe", "acc-1", symbol, side, OrderType.MARKET, quantity, outcome)
            if buying_power.growth(self.account, order) == 0:
                copy = copy_account(self.account)
                events = engine.submit_order(
                    copy,
                    order,
                    self.market,
                    order_ids=InMemoryOrderIds(),
                    now=self.clock,
                    offset=0,
                    duplicate_window=timedelta(hours=1),
                )
                # A program's throttle and open-order limit count every order, closing or not.
                rejected = [
                    e for e in events
                    if isinstance(e, OrderEvent) and e.status is OrderStatus.REJECTED
                    and e.reason not in (Reason.ORDER_RATE_LIMIT, Reason.OPEN_ORDER_LIMIT)
                ]  # fmt: skip
                assert not rejected, rejected

    def _marks(self) -> dict[str, D]:
        return pricing.marks_of(self.account, self.market)

    @invariant()
    def reduce_only_orders_never_exceed_what_is_left_to_close(self) -> None:
        closing: dict[str, D] = {}
        counted: set[str] = set()
        for resting in self.account.resting.values():
            order = resting.order
            if not order.reduce_only:
                continue
            key = position_key(order.symbol, order.outcome)
            position = self.account.positions.get(key)
            held = position.quantity if position else ZERO
            assert held and (held > 0) != (order.side is Side.BUY), (order, held)
            # One of an OCO pair cancels the other: they close the same part.
            sibling = self.account.resting.get(order.oco_with or "")
            shared = sibling.order.quantity if sibling and order.oco_with in counted else ZERO
            closing[key] = closing.get(key, ZERO) + max(order.quantity - shared, ZERO)
            counted.add(order.order_id)
            assert closing[key] <= abs(held), (order, held, closing[key])

    @invariant()
    def no_program_breach_goes_unseen(self) -> None:
        """Every step ends marked: a running evaluation is inside its loss rules, or it has
        decided; it decides a pass or a failure once, and its state follows."""
        evaluation = self.account.evaluation
        rules = self.market.program(self.account)
        if evaluation is None or rules is None:
            return
        final = [e.outcome for e in self.decided if e.outcome in ("passed", "failed")]
        assert len(final) <= 1, self.decided
        if evaluation.outcome == "passed":
            assert self.account.state is TradingState.CLOSED
        elif evaluation.outcome == "failed":
            assert (self.account.failed and self.account.halted) or (
                self.account.state is TradingState.CLOSED
            )
        if (
            evaluation.outcome is not None or evaluation.locked or evaluation.started is None
            or self.account.failed or self.account.state is TradingState.CLOSED
        ):  # fmt: skip
            return
        equity = ledger.equity(self.account, self._marks())
        if (daily := program.daily_loss(evaluation, self.account, rules)) is not None:
            start, limit = daily
            assert start - equity <= limit, (start, equity, limit)
        floor = program.max_loss_floor(evaluation, self.account, rules)
        assert floor is None or equity >= floor, (floor, equity)

    @invariant()
    def the_open_orders_are_the_resting_ones(self) -> None:
        assert self.open_orders == set(self.account.resting)

    @invariant()
    def cash_and_positions_are_the_fold_of_the_fills(self) -> None:
        cash, positions = self.starting, {}
        for fill in self.fills:
            value = ledger.cash_amount(fill.quantity * fill.price, fill.side)
            signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
            cash += (-value if fill.side is Side.BUY else value) - fill.fee
            key = position_key(fill.symbol, fill.outcome)
            positions[key] = positions.get(key, ZERO) + signed
            assert fill.cash_after == cash and fill.position_quantity == positions[key]
        assert self.account.cash == cash
        held = {key: quantity for key, quantity in positions.items() if quantity}
        assert {key: p.quantity for key, p in self.account.positions.items()} == held

    @invariant()
    def realized_pnl_and_fees_reconcile_with_cash_exactly(self) -> None:
        realized = sum((fill.realized_pnl for fill in self.fills), ZERO)
        fees = sum((fill.fee for fill in self.fills), ZERO)
        basis = sum((p.cost for p in self.account.positions.values()), ZERO)
        assert self.account.cash + basis == self.starting + realized - fees

    @invariant()
    def cash_stays_positive_where_nothing_borrows(self) -> None:
        if self.account.limits.max_leverage <= 1 and not self.ever_short:
            assert self.account.cash >= 0, self.account.cash
        crypto = any(self.instruments[f.symbol].kind is Kind.CRYPTO for f in self.fills)
        if not crypto:
            assert self.account.cash >= 0, self.account.cash

    @invariant()
    def exact_to_the_quantum(self) -> None:
        with_places = [self.account.cash, *(p.cost for p in self.account.positions.values())]
        for value in with_places:
            assert value == value.quantize(D(1).scaleb(-18), context=EXACT)


Trading.TestCase.settings = settings(
    # A case runs about half its step budget on average.
    max_examples=max(2 * STEPS // STEPS_PER_CASE, 1),
    stateful_step_count=STEPS_PER_CASE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class TestRiskInvariants(Trading.TestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        print(f"\nrisk invariants checked after {STEPS_RUN[0]} ticks and orders")
