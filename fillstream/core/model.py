"""Domain types shared by the rules: instruments, orders, ticks, accounts and their positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10_000)
HUNDRED = Decimal(100)

PLACES = 18
QUANTUM = Decimal(1).scaleb(-PLACES)
"""Money and prices carry at most 18 places, as the analyst columns do: every cash amount the
engine books is rounded to it once (against the account), and sums of such amounts are exact."""
MAX_QUANTITY = Decimal(10) ** 12
MAX_PRICE = Decimal(10) ** 12
MAX_BALANCE = Decimal(10) ** 15
MAX_LEVERAGE = Decimal(1000)
MAX_ORDER_PCT = Decimal(100_000)
ENGINE_ID_PREFIX = "~"
"""Ids the engine makes (liquidation orders) start with it; client order ids may not."""


class Kind(StrEnum):
    CRYPTO = "crypto"
    PREDICTION = "prediction"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Outcome(StrEnum):
    YES = "yes"
    NO = "no"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    MARKET_IF_TOUCHED = "market_if_touched"
    LIMIT_IF_TOUCHED = "limit_if_touched"
    TRAILING_STOP_MARKET = "trailing_stop_market"
    TRAILING_STOP_LIMIT = "trailing_stop_limit"


class OffsetType(StrEnum):
    PRICE = "price"
    BPS = "bps"


class TimeInForce(StrEnum):
    GTC = "gtc"
    """Good till cancelled."""
    IOC = "ioc"
    """Immediate or cancel: what does not fill on arrival is cancelled."""
    FOK = "fok"
    """Fill or kill: all on arrival or nothing (what is quoted must cover it)."""
    GTD = "gtd"
    """Good till ``expire_at``."""
    DAY = "day"
    """Good till the end of the session day (`Session`)."""


class Liquidity(StrEnum):
    TAKER = "taker"
    MAKER = "maker"
    SETTLEMENT = "settlement"
    """A resolved prediction market paying its shares out: no liquidity taken, no fee."""


class TradingState(StrEnum):
    """What an account may do."""

    ACTIVE = "active"
    REDUCING = "reducing"
    """Only orders that bring a position toward zero."""
    HALTED = "halted"
    """No orders, only cancels (nothing rests: halting cancels what did)."""
    CLOSED = "closed"
    """Flattened for good: nothing more, not even a resume."""


class Result(StrEnum):
    """How a prediction market resolved."""

    YES = "yes"
    NO = "no"
    VOID = "void"
    """Every share is returned at its average cost."""
    SPLIT = "split"
    """YES shares pay ``yes_payout``, NO shares the rest of 1."""


EXACT = Context(
    prec=100, Emax=10_000, Emin=-10_000, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""The arithmetic context of the rules: wide enough that sums and products of bounded amounts
are exact (the default 28 digits rounded P&L), trapping anything that would not be."""


def rounded(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """To the money quantum, without trailing zeros (so 2.5 stays 2.5 on the wire)."""
    return value.quantize(QUANTUM, rounding, EXACT).normalize(EXACT)


def within(value: Decimal, largest: Decimal) -> bool:
    """0 < value <= largest, with at most PLACES digits after the point (trailing zeros aside)."""
    if not 0 < value <= largest:
        return False
    with localcontext(EXACT):
        return value == value.quantize(QUANTUM, ROUND_DOWN)


class Reason(StrEnum):
    """Rejection reasons, in the order the pre-trade checks run."""

    INVALID_ORDER = "INVALID_ORDER"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_HALTED = "ACCOUNT_HALTED"
    ACCOUNT_CLOSED = "ACCOUNT_CLOSED"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    MARKET_RESOLVED = "MARKET_RESOLVED"
    """The prediction market has resolved: it takes no orders, and its resting ones ended."""
    NO_MARKET_DATA = "NO_MARKET_DATA"
    RISK_LIMIT = "RISK_LIMIT"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    ACCOUNT_REDUCING = "ACCOUNT_REDUCING"
    """The account may only reduce its positions, and the order would grow one."""
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    """A cancel or replace names an order id the account never used."""
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    REDUCE_ONLY_WOULD_INCREASE = "REDUCE_ONLY_WOULD_INCREASE"
    POSITION_LIMIT = "POSITION_LIMIT"
    """The program's largest position in one symbol (|quantity| x price) would be exceeded."""
    OPEN_ORDER_LIMIT = "OPEN_ORDER_LIMIT"
    """The program's number of open orders is reached."""
    ORDER_RATE_LIMIT = "ORDER_RATE_LIMIT"
    """The program's orders per second or per minute are used up (the throttle)."""
    ORDER_CLOSED = "ORDER_CLOSED"
    """A cancel or replace names an order that is no longer open (filled, cancelled, ...)."""


@dataclass(frozen=True)
class Instrument:
    symbol: str
    kind: Kind
    taker_fee_bps: Decimal
    maker_fee_bps: Decimal
    slippage_bps: Decimal
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None


@dataclass(frozen=True)
class Resolution:
    symbol: str
    result: Result
    yes_payout: Decimal | None = None
    """Split only: what a YES share pays (a NO share pays 1 - it)."""

    def payout(self, outcome: Outcome) -> Decimal | None:
        """What a share of ``outcome`` pays; None for a void market (each returns its cost)."""
        if self.result is Result.VOID:
            return None
        if self.result is Result.SPLIT:
            assert self.yes_payout is not None
            return self.yes_payout if outcome is Outcome.YES else ONE - self.yes_payout
        return ONE if self.result.value == outcome.value else ZERO


@dataclass(frozen=True)
class Quote:
    """What a tick may say beside its last price: the best bid and ask (YES prices, for a
    prediction market), the sizes quoted at them, and the size of the last trade. A size left
    out is unknown, and then the last-price model's unlimited fill applies to it."""

    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    size: Decimal | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    account_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    outcome: Outcome | None = None
    limit_price: Decimal | None = None
    ts: datetime | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_at: datetime | None = None
    """Set for GTD by the trader, and for DAY by the engine at acceptance."""
    trigger_price: Decimal | None = None
    """Stops and if-touched orders: the last price that turns them into a market or limit
    order; trailing stops: where the engine has trailed it to."""
    trailing_offset: Decimal | None = None
    trailing_offset_type: OffsetType = OffsetType.PRICE
    limit_offset: Decimal | None = None
    """Trailing stop limits: the limit's distance beyond the trigger when it triggers."""
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    """A bracket: once this order fills, a reduce-only take-profit limit and stop-loss stop close
    it, one cancelling the other (ids ``~tp-<order_id>``, ``~sl-<order_id>``)."""
    oco_with: str | None = None
    """Another open order of the account: when either fills, the other is cancelled."""
    post_only: bool = False
    """Rests, or is rejected: never takes liquidity."""
    reduce_only: bool = False
    """Never grows its position: refused if it would, and shrunk or cancelled as the position
    shrinks."""


@dataclass(frozen=True)
class Cancel:
    """Cancel an open order of the account."""

    order_id: str
    account_id: str


@dataclass(frozen=True)
class Replace:
    """Change an open order's quantity and/or limit price; it keeps its id and goes to the back
    of the queue, as at an exchange."""

    order_id: str
    account_id: str
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True)
class Session:
    """Where a trading day ends, for DAY orders: ``close`` o'clock in ``zone``."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    close: time = time(0)

    def end_of_day(self, now: datetime) -> datetime:
        """The first close strictly after ``now``."""
        local = now.astimezone(self.zone)
        close = datetime.combine(local.date(), self.close, self.zone)
        if close <= local:
            close = datetime.combine(local.date() + timedelta(days=1), self.close, self.zone)
        return close.astimezone(now.tzinfo)


@dataclass(frozen=True)
class AccountLimits:
    max_leverage: Decimal
    max_order_pct: Decimal
    max_drawdown_pct: Decimal


@dataclass
class Position:
    """A signed quantity (crypto may be short) and its exact signed cost basis: what was paid for
    a long, minus what was received for a short. Kept as a sum rather than an average price, so
    realized P&L and fees reconcile with cash to the last digit."""

    quantity: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def avg_price(self) -> Decimal:
        if not self.quantity:
            return ZERO
        with localcontext(EXACT):
            return rounded(self.cost / self.quantity)


@dataclass(frozen=True)
class Progress:
    """How much of an order has filled, and for how much (the sum of quantity x price, exact),
    for its cumulative quantity and average price."""

    filled: Decimal = ZERO
    value: Decimal = ZERO

    def add(self, quantity: Decimal, price: Decimal) -> Progress:
        with localcontext(EXACT):
            return Progress(self.filled + quantity, self.value + quantity * price)

    @property
    def avg_price(self) -> Decimal | None:
        if not self.filled:
            return None
        with localcontext(EXACT):
            return rounded(self.value / self.filled)


NOTHING_FILLED = Progress()


@dataclass(frozen=True)
class RestingOrder:
    """An open order. Its ``order.quantity`` is what is still open (the leaves): what
    reservations, reduce-only fitting and fills work on; ``progress`` is what already filled."""

    order: Order
    fee_bps: Decimal
    progress: Progress = NOTHING_FILLED


@dataclass(frozen=True)
class Threshold:
    """An amount of money, or a percentage of a base (the initial balance unless said)."""

    amount: Decimal | None = None
    pct: Decimal | None = None

    def of(self, initial: Decimal) -> Decimal:
        if self.amount is not None:
            return self.amount
        assert self.pct is not None
        return initial * self.pct / HUNDRED


class DayStart(StrEnum):
    """What the daily loss is measured from: the balance or the equity at the day's reset, or
    the larger of the two."""

    BALANCE = "balance"
    EQUITY = "equity"
    HIGHER = "higher"


class Trailing(StrEnum):
    STATIC = "static"
    """A fixed floor: the initial balance less the maximum loss."""
    INTRADAY = "intraday"
    """The floor trails the highest equity seen, marks included."""
    END_OF_DAY = "end_of_day"
    """The floor trails the highest balance at a day's end."""


@dataclass(frozen=True)
class Program:
    program_id: str
    day: Session = field(default_factory=Session)
    """When a program day starts (the reset), in the program's time zone."""
    daily_loss: Threshold | None = None
    daily_loss_from: DayStart = DayStart.BALANCE
    daily_loss_pct_of_day_start: bool = False
    """A percentage daily loss is of the day's start (as ``daily_loss_from`` measures it), not
    of the initial balance."""
    daily_loss_locks: bool = False
    """A daily-loss breach closes everything and locks the account until the next reset,
    instead of failing it."""
    max_loss: Threshold | None = None
    max_loss_trailing: Trailing = Trailing.STATIC
    max_loss_stops_at_start: bool = False
    """A trailing floor rises no higher than the initial balance."""
    profit_target: Threshold | None = None
    min_trading_days: int = 0
    max_days: int | None = None
    """Calendar days from the account's start; failed if not passed by then."""
    consistency_pct: Decimal | None = None
    """The best day's profit may be at most this % of the total profit, to pass."""
    max_position_notional: Decimal | None = None
    """Per symbol: |position| x price, after the order."""
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None
    max_orders_per_minute: int | None = None

    def day_of(self, now: datetime) -> date:
        """The program day ``now`` falls in, named after the date it ends on (a 17:00 reset
        starts tomorrow's day, as futures sessions do; a midnight reset, today's)."""
        end = self.day.end_of_day(now).astimezone(self.day.zone)
        return (end - timedelta(microseconds=1)).date()


@dataclass
class Evaluation:
    """An account's progress through its program (kept in the account's state)."""

    program_id: str
    overrides: dict[str, Any] = field(default_factory=dict)
    """The account's own values for the program's rules, as given (the worker merges them)."""
    started: datetime | None = None
    day: date | None = None
    day_start_balance: Decimal = ZERO
    day_start_equity: Decimal = ZERO
    high_water: Decimal = ZERO
    """The highest equity since the start."""
    eod_high_water: Decimal = ZERO
    """The highest balance at a day's end (the start counts)."""
    days_traded: int = 0
    last_traded: date | None = None
    best_day: Decimal = ZERO
    """The best finished day's profit (equity at its end less equity at its start)."""
    outcome: str | None = None
    """``passed`` or ``failed``, once decided."""
    locked: bool = False
    """Locked by a daily-loss breach until the next reset."""
    orders: list[datetime] = field(default_factory=list)
    """When the orders of the last minute came, for the order-rate throttle."""


@dataclass
class Account:
    account_id: str
    starting_balance: Decimal
    cash: Decimal
    peak_equity: Decimal
    limits: AccountLimits
    state: TradingState = TradingState.ACTIVE
    failed: bool = False
    """It breached its drawdown limit: halted for good (a resume is refused)."""
    fills: int = 0
    """How many fills the account has had; numbers its fill ids, so they never repeat."""
    evaluation: Evaluation | None = None
    """Its progress through an evaluation program, if it runs one."""
    # Position key: the symbol for crypto, "symbol:outcome" for prediction shares.
    positions: dict[str, Position] = field(default_factory=dict)
    resting: dict[str, RestingOrder] = field(default_factory=dict)

    @property
    def halted(self) -> bool:
        return self.state is TradingState.HALTED


@dataclass(frozen=True)
class SeenOrder:
    """When an order id was first used, and the source offset of that order message."""

    ts: datetime
    offset: int


class OrderIds(Protocol):
    """An account's used order ids. Kept apart from the account so that the account's state
    stays small however many orders it sends."""

    def get(self, order_id: str) -> SeenOrder | None: ...

    def add(self, order_id: str, seen: SeenOrder) -> None: ...


class InMemoryOrderIds(dict):
    """OrderIds in a dict, for the rules' own tests and callers without a store."""

    def add(self, order_id: str, seen: SeenOrder) -> None:
        self[order_id] = seen


def position_key(symbol: str, outcome: Outcome | None) -> str:
    return symbol if outcome is None else f"{symbol}:{outcome.value}"


def split_position_key(key: str) -> tuple[str, Outcome | None]:
    symbol, _, outcome = key.partition(":")
    return symbol, Outcome(outcome) if outcome else None


def _unquoted(symbol: str) -> Quote | None:
    return None


def _unresolved(symbol: str) -> Resolution | None:
    return None


def _no_program(account: Account) -> Program | None:
    return None


@dataclass(frozen=True)
class Market:
    """What the rules may know of the market, by symbol: instruments, last trade prices, and
    what the latest tick quoted beside its price (`Quote`), if anything."""

    instrument: Callable[[str], Instrument | None]
    last_price: Callable[[str], Decimal | None]
    quote: Callable[[str], Quote | None] = _unquoted
    resolution: Callable[[str], Resolution | None] = _unresolved
    """How a prediction market resolved, once it has."""
    trading: TradingState = TradingState.ACTIVE
    """The firm-wide trading state (the kill switch): it restricts every account as its own
    state does, the stricter of the two applying."""
    program: Callable[[Account], Program | None] = _no_program
    """The account's evaluation program with its own overrides, if it runs one."""


def copy_account(account: Account) -> Account:
    evaluation = account.evaluation
    return replace(
        account,
        positions={key: replace(position) for key, position in account.positions.items()},
        resting=dict(account.resting),
        evaluation=evaluation and replace(evaluation, orders=list(evaluation.orders)),
    )
