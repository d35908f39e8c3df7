"""A tiny in-memory market and account book for exercising the pure core directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fillstream.core import commands, engine
from fillstream.core.events import Event, Fill, OrderEvent
from fillstream.core.model import (
    Account,
    AccountLimits,
    Cancel,
    InMemoryOrderIds,
    Instrument,
    Kind,
    Market,
    OffsetType,
    Order,
    OrderType,
    Outcome,
    Quote,
    Replace,
    Resolution,
    Result,
    Session,
    Side,
    TimeInForce,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def crypto(symbol: str, taker="10", maker="2", slippage="5", tick=None, lot=None) -> Instrument:
    return Instrument(
        symbol, Kind.CRYPTO, D(taker), D(maker), D(slippage), tick and D(tick), lot and D(lot)
    )


def prediction(symbol: str, taker="100", maker="0", slippage="0", tick=None) -> Instrument:
    return Instrument(symbol, Kind.PREDICTION, D(taker), D(maker), D(slippage), tick and D(tick))


class Book:
    def __init__(self, *instruments: Instrument) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self.prices: dict[str, Decimal] = {}
        self.quotes: dict[str, Quote] = {}
        self.resolutions: dict[str, Resolution] = {}
        self.market = Market(
            self.instruments.get, self.prices.get, self.quotes.get, self.resolutions.get
        )
        self.offset = 0
        self.clock = T0
        self.order_ids = InMemoryOrderIds()

    def account(
        self, balance="10000", leverage="1", max_order_pct="100", max_drawdown_pct="50"
    ) -> Account:
        limits = AccountLimits(D(leverage), D(max_order_pct), D(max_drawdown_pct))
        return engine.open_account("acc-1", D(balance), limits)

    def order(
        self,
        account: Account | None,
        symbol: str,
        side: str,
        quantity: str,
        limit: str | None = None,
        outcome: str | None = None,
        order_id: str | None = None,
        tif: str = "gtc",
        expire_at: datetime | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        session: Session = engine.UTC_DAYS,
        order_type: str | None = None,
        trigger: str | None = None,
        trailing: str | None = None,
        trailing_type: str = "price",
        limit_offset: str | None = None,
        take_profit: str | None = None,
        stop_loss: str | None = None,
        oco_with: str | None = None,
    ) -> list[Event]:
        self.offset += 1
        self.clock += timedelta(seconds=1)
        order = Order(
            order_id=order_id or f"o{self.offset}",
            account_id="acc-1",
            symbol=symbol,
            side=Side(side),
            type=OrderType(order_type or ("limit" if limit else "market")),
            quantity=D(quantity),
            outcome=Outcome(outcome) if outcome else None,
            limit_price=D(limit) if limit else None,
            time_in_force=TimeInForce(tif),
            expire_at=expire_at,
            post_only=post_only,
            reduce_only=reduce_only,
            trigger_price=D(trigger) if trigger else None,
            trailing_offset=D(trailing) if trailing else None,
            trailing_offset_type=OffsetType(trailing_type),
            limit_offset=D(limit_offset) if limit_offset else None,
            take_profit_price=D(take_profit) if take_profit else None,
            stop_loss_price=D(stop_loss) if stop_loss else None,
            oco_with=oco_with,
        )
        return engine.submit_order(
            account,
            order,
            self.market,
            order_ids=self.order_ids,
            now=self.clock,
            offset=self.offset,
            duplicate_window=timedelta(hours=24),
            session=session,
        )

    def cancel(self, account: Account | None, order_id: str) -> list[Event]:
        self.clock += timedelta(seconds=1)
        return commands.cancel(account, Cancel(order_id, "acc-1"), self.order_ids, self.clock)

    def replace(
        self,
        account: Account | None,
        order_id: str,
        quantity: str | None = None,
        limit: str | None = None,
    ) -> list[Event]:
        self.clock += timedelta(seconds=1)
        command = Replace(order_id, "acc-1", quantity and D(quantity), limit and D(limit))
        return commands.replace_order(account, command, self.market, self.order_ids, self.clock)

    def tick(self, account: Account, symbol: str, price: str, **quote: str) -> list[Event]:
        """A tick; ``quote`` may give bid, ask, bid_size, ask_size and size."""
        self.clock += timedelta(seconds=1)
        self.prices[symbol] = D(price)
        self.quote(symbol, **quote)
        filled = engine.fill_resting(account, symbol, self.market, self.clock)
        return filled + engine.mark(account, self.market, self.clock)

    def resolve(
        self, account: Account, symbol: str, result: str, yes_payout: str | None = None
    ) -> list[Event]:
        self.clock += timedelta(seconds=1)
        resolution = Resolution(symbol, Result(result), yes_payout and D(yes_payout))
        self.resolutions[symbol] = resolution
        return engine.settle(account, resolution, self.market, self.clock)

    def quote(self, symbol: str, **quote: str) -> None:
        """What the latest tick of ``symbol`` quotes beside its price."""
        self.quotes.pop(symbol, None)
        if quote:
            self.quotes[symbol] = Quote(**{name: D(value) for name, value in quote.items()})


def fills(events: list[Event]) -> list[Fill]:
    return [event for event in events if isinstance(event, Fill)]


def progress(events: list[Event], order_id: str) -> list[tuple[str, str, str, str]]:
    """Each event of the order: status, filled, open, average price (as text, "-" if none)."""

    def text(value: Decimal | None) -> str:
        return "-" if value is None else format(value, "f")

    return [
        (e.status.value, text(e.filled_quantity), text(e.leaves_quantity), text(e.avg_price))
        for e in events
        if isinstance(e, OrderEvent) and e.order_id == order_id
    ]


def statuses(events: list[Event]) -> list[tuple[str, str | None]]:
    return [
        (event.status.value, event.reason and event.reason.value)
        for event in events
        if isinstance(event, OrderEvent)
    ]
