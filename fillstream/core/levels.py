"""Exact risk on every tick without marking every holder on every tick.

A tick changes an account only if it fills or triggers one of its orders, moves a trailing stop,
raises a high-water mark, breaches a loss rule, or comes after a time at which something is due
(an expiry, a program day's reset, a program's end). So for each symbol an account holds or
rests on, `levels` finds the prices at which a tick can do any of that, and `LevelIndex` keeps
them sorted: a tick touches only the accounts whose levels it reaches, and each touched account
runs exactly what marking it on every tick would (`engine.on_tick`), then gets new levels.

Equity moves with every symbol held, so each symbol gets a band that is its share of the room
left between equity and the nearest loss floor (below) and the high-water marks (above): while
every price stays inside its band, equity stays inside the room, whatever the other symbols do.
Crossing one band re-divides the room at the prices of the moment. Bands are rounded inward, so
an index error can only touch an account that did not need it, never skip one that did.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import Any, NamedTuple

from sortedcontainers import SortedList

from fillstream.core import contingent, program, triggers
from fillstream.core.model import (
    EXACT,
    HUNDRED,
    ONE,
    ZERO,
    Account,
    Kind,
    Market,
    Order,
    Outcome,
    Program,
    Side,
    TradingState,
    split_position_key,
)

PLACES = Decimal("1e-30")
"""Bands are rounded inward to this, far below any price or amount the wire carries."""
MARGIN = Decimal("1e-24")
"""Room kept back from a loss floor, so arithmetic at the very edge never decides alone."""


class Band(NamedTuple):
    """A tick of the symbol touches the account if any of its prices (last, bid, ask, on the
    instrument's own scale: YES for predictions) is at or below ``low`` or at or above
    ``high``; ``always`` if every tick does."""

    low: Decimal | None = None
    high: Decimal | None = None
    always: bool = False


ALWAYS = Band(always=True)


@dataclass(frozen=True)
class Levels:
    """Per watched symbol, its band; and the first time at which any tick of them touches."""

    bands: dict[str, Band] = field(default_factory=dict)
    due: datetime | None = None


def watched(account: Account) -> set[str]:
    """The symbols whose ticks reach the account: those it holds or rests orders on."""
    held = {split_position_key(key)[0] for key in account.positions}
    return held | {resting.order.symbol for resting in account.resting.values()}


def seen(market: Market, symbol: str) -> list[Decimal]:
    """The prices of the symbol's latest tick a band is compared with: last, bid and ask."""
    last, quote = market.last_price(symbol), market.quote(symbol)
    prices = [] if last is None else [last]
    if quote is not None:
        prices += [price for price in (quote.bid, quote.ask) if price is not None]
    return prices


def levels(account: Account, market: Market) -> Levels:
    symbols = watched(account)
    if not symbols:
        return Levels()
    if _always(account, market):
        return Levels(dict.fromkeys(symbols, ALWAYS))
    with localcontext(EXACT):
        lows: dict[str, Decimal] = {}
        highs: dict[str, Decimal] = {}
        always: set[str] = set()
        for resting in account.resting.values():
            _order_level(resting.order, market, lows, highs, always)
        _equity_levels(account, market, lows, highs, always)
        bands = {
            symbol: ALWAYS if symbol in always else Band(lows.get(symbol), highs.get(symbol))
            for symbol in symbols
        }
        return Levels(bands, _due(account, market))


def _lower(levels: dict[str, Decimal], symbol: str, value: Decimal) -> None:
    current = levels.get(symbol)
    levels[symbol] = value if current is None or value > current else current


def _raise(levels: dict[str, Decimal], symbol: str, value: Decimal) -> None:
    current = levels.get(symbol)
    levels[symbol] = value if current is None or value < current else current


def _always(account: Account, market: Market) -> bool:
    """What only a mark can settle: a program not yet begun, a pass that only waits for one
    (judged flat), a bracket entry left unprotected."""
    if any(
        resting.progress.filled
        and (
            resting.order.take_profit_price is not None or resting.order.stop_loss_price is not None
        )
        and not any(exit_id in account.resting for exit_id in contingent.exit_ids(order_id))
        for order_id, resting in account.resting.items()
    ):
        return True
    rules = _judged(account, market)
    if rules is None:
        return False
    evaluation = account.evaluation
    assert evaluation is not None
    return evaluation.started is None or (
        rules.profit_target is not None and not account.positions and not evaluation.locked
    )


def _judged(account: Account, market: Market) -> Program | None:
    """The program a mark judges the account by, if any."""
    evaluation = account.evaluation
    if (
        evaluation is None
        or evaluation.outcome is not None
        or account.failed
        or account.state is TradingState.CLOSED
    ):
        return None
    return market.program(account)


def _order_level(
    order: Order,
    market: Market,
    lows: dict[str, Decimal],
    highs: dict[str, Decimal],
    always: set[str],
) -> None:
    """Where a tick can fill a resting limit or trigger a waiting order; trailing stops move
    with every favourable price, so they are touched on every tick."""
    symbol = order.symbol
    instrument = market.instrument(symbol)
    waits = order.type in triggers.WAITING
    level = order.trigger_price if waits else order.limit_price
    if instrument is None or order.type in triggers.TRAILING or level is None:
        always.add(symbol)
        return
    buy = order.side is Side.BUY
    # On the order's own scale: does it act when the price falls to the level, or rises to it?
    falls = (not buy) if waits and order.type in triggers.STOPS else buy
    if instrument.kind is Kind.PREDICTION and order.outcome is Outcome.NO:
        # NO's price is 1 - YES: a fall of one is a rise of the other.
        level, falls = ONE - level, not falls
    if falls:
        _lower(lows, symbol, level)
    else:
        _raise(highs, symbol, level)


def _equity_levels(
    account: Account,
    market: Market,
    lows: dict[str, Decimal],
    highs: dict[str, Decimal],
    always: set[str],
) -> None:
    """Each held symbol's share of the room between equity and its floor and ceiling."""
    exposure: dict[str, Decimal] = {}
    equity = account.cash
    for key, position in account.positions.items():
        symbol, outcome = split_position_key(key)
        instrument = market.instrument(symbol)
        last = market.last_price(symbol)
        assert instrument is not None and last is not None, f"held {key} without market data"
        quantity = position.quantity
        if instrument.kind is Kind.PREDICTION and outcome is Outcome.NO:
            # Marked at 1 - YES: it moves against the YES price.
            equity += quantity * (ONE - last)
            quantity = -quantity
        else:
            equity += quantity * last
        exposure[symbol] = exposure.get(symbol, ZERO) + quantity
    moving = {symbol: a for symbol, a in exposure.items() if a}
    if not moving:
        return
    floor, ceiling = _room(account, market)
    down = None if floor is None else equity - floor - MARGIN
    up = ceiling - equity
    if (down is not None and down < 0) or up < 0:
        # Outside its room already (a fill since its last mark): the next tick marks it.
        always.update(moving)
        return
    share = len(moving)
    down_each = None if down is None else (down / share).quantize(PLACES, ROUND_FLOOR)
    up_each = (up / share).quantize(PLACES, ROUND_FLOOR)
    for symbol, a in moving.items():
        last = market.last_price(symbol)
        assert last is not None
        fall, rise = (down_each, up_each) if a > 0 else (up_each, down_each)
        size = abs(a)
        if fall is not None:
            _lower(lows, symbol, (last - fall / size).quantize(PLACES, ROUND_CEILING))
        if rise is not None:
            _raise(highs, symbol, (last + rise / size).quantize(PLACES, ROUND_FLOOR))


def _room(account: Account, market: Market) -> tuple[Decimal | None, Decimal]:
    """The highest equity a mark would not act on (a high-water mark it would raise), and the
    lowest (a floor it would breach)."""
    ceiling = account.peak_equity
    floors: list[Decimal] = []
    if not account.failed and account.state is not TradingState.CLOSED:
        peak, limit = account.peak_equity, account.limits.max_drawdown_pct
        if peak > 0:
            floors.append(peak - peak * limit / HUNDRED)
    rules = _judged(account, market)
    evaluation = account.evaluation
    if rules is not None and evaluation is not None and not evaluation.locked:
        ceiling = min(ceiling, evaluation.high_water)
        if (daily := program.daily_loss(evaluation, account, rules)) is not None:
            start, limit = daily
            floors.append(start - limit)
        if (floor := program.max_loss_floor(evaluation, account, rules)) is not None:
            floors.append(floor)
    return (max(floors) if floors else None), ceiling


def _due(account: Account, market: Market) -> datetime | None:
    """The first time a tick acts whatever its price: an order's expiry, the program day's
    reset, the program's last day."""
    times = [r.order.expire_at for r in account.resting.values() if r.order.expire_at]
    rules = _judged(account, market)
    evaluation = account.evaluation
    if rules is not None and evaluation is not None and evaluation.day is not None:
        times.append(program.next_reset(evaluation.day, rules))
        if rules.max_days is not None and evaluation.started is not None:
            times.append(evaluation.started + timedelta(days=rules.max_days))
    return min(times, default=None)


class _Sorted:
    """Values kept sorted, each with the accounts at it: accounts touched by the same tick share
    the same level (the price of that tick), so a level is inserted once for all of them."""

    def __init__(self) -> None:
        self._values = SortedList()
        self._at: dict[Any, set[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._at)

    def add(self, value: Any, account_id: str) -> None:
        accounts = self._at.get(value)
        if accounts is None:
            accounts = self._at[value] = set()
            self._values.add(value)
        accounts.add(account_id)

    def remove(self, value: Any, account_id: str) -> None:
        accounts = self._at[value]
        accounts.discard(account_id)
        if not accounts:
            del self._at[value]
            self._values.remove(value)

    def from_(self, minimum: Any) -> Iterator[str]:
        for value in self._values.irange(minimum=minimum):
            yield from self._at[value]

    def up_to(self, maximum: Any) -> Iterator[str]:
        for value in self._values.irange(maximum=maximum):
            yield from self._at[value]


class LevelIndex:
    """Per symbol, the accounts' band edges and due times, sorted: a tick finds the accounts
    it touches in time logarithmic in the holders, plus those it touches."""

    def __init__(self) -> None:
        self._lows: dict[str, _Sorted] = {}
        self._highs: dict[str, _Sorted] = {}
        self._due: dict[str, _Sorted] = {}
        self._always: dict[str, set[str]] = {}
        self._of: dict[str, Levels] = {}

    def __len__(self) -> int:
        return len(self._of)

    def set(self, account_id: str, new: Levels) -> None:
        """Replace the account's levels (only where they changed: most ticks move one band)."""
        old = self._of.pop(account_id, None) or Levels()
        for symbol, band in old.bands.items():
            if new.bands.get(symbol) != band or new.due != old.due:
                self._apply(symbol, account_id, band, old.due, add=False)
        for symbol, band in new.bands.items():
            if old.bands.get(symbol) != band or new.due != old.due:
                self._apply(symbol, account_id, band, new.due, add=True)
        if new.bands:
            self._of[account_id] = new

    def _apply(
        self, symbol: str, account_id: str, band: Band, due: datetime | None, add: bool
    ) -> None:
        if band.always:
            always = self._always.setdefault(symbol, set())
            always.add(account_id) if add else always.discard(account_id)
            return
        for value, lists in ((band.low, self._lows), (band.high, self._highs), (due, self._due)):
            if value is None:
                continue
            entries = lists.get(symbol)
            if entries is None:
                entries = lists[symbol] = _Sorted()
            entries.add(value, account_id) if add else entries.remove(value, account_id)

    def touched(self, symbol: str, prices: Iterable[Decimal], now: datetime) -> list[str]:
        """The accounts a tick of ``symbol`` at these prices and time acts on, in id order."""
        seen = list(prices)
        hit = set(self._always.get(symbol, ()))
        if seen:
            lows, highs = self._lows.get(symbol), self._highs.get(symbol)
            if lows:
                hit.update(lows.from_(min(seen)))
            if highs:
                hit.update(highs.up_to(max(seen)))
        due = self._due.get(symbol)
        if due:
            hit.update(due.up_to(now))
        return sorted(hit)
