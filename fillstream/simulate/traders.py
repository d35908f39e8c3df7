"""Seeded order flow from simulated accounts, as an upstream trading front end would send it.

Most orders are sound market and limit orders on both kinds of instrument; a configurable share
is deliberately bad (oversized, an unknown symbol, malformed JSON) so that rejections and dead
letters show; reckless accounts trade big on high leverage with a tight drawdown limit. With a
share of order management, traders also cancel and move their limit orders, and send some as IOC
or GTD (expiring within a minute of the clock), and turn some market orders into brackets,
breakout stops and trailing stops. Patient accounts only post limit orders. The same seed,
prices and clock give the same messages.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fillstream.wire.times import format_time

RECKLESS_LIMITS = {"max_leverage": "5", "max_order_pct": "100", "max_drawdown_pct": "2"}


class TraderModel:
    def __init__(
        self,
        accounts: int,
        seed: int,
        bad_share: float,
        reckless_share: float,
        manage_share: float = 0.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rng = random.Random(seed)
        self.bad_share = bad_share
        self.manage_share = manage_share
        """Of the messages, the share that cancel or replace one of the trader's limit orders."""
        self._clock = clock
        self._limits: deque[tuple[str, str, Decimal, Decimal]] = deque(maxlen=500)
        """Recent GTC limit orders: account, order id, limit price, tick size."""
        self.accounts = []
        for n in range(accounts):
            reckless = n < max(1, round(accounts * reckless_share)) if reckless_share else False
            account = {
                "account_id": f"{'reckless' if reckless else 'trader'}-{n:04d}",
                "starting_balance": str(self._rng.choice([10_000, 50_000, 100_000])),
                "max_order_pct": "25",
            }  # reckless ones override the limits below
            if reckless:
                account.update(RECKLESS_LIMITS)
            self.accounts.append(account)
        self._sequence = 0
        self.patient: set[str] = set()
        """Accounts that only send limit orders."""

    def account_messages(self) -> list[tuple[str, bytes]]:
        return [(a["account_id"], json.dumps(a).encode()) for a in self.accounts]

    def order(
        self, instruments: Mapping[str, dict], prices: Mapping[str, str]
    ) -> tuple[str, bytes]:
        """The next order, given the instruments by symbol and the last price of each."""
        rng = self._rng
        if self.manage_share and self._limits and rng.random() < self.manage_share:
            return self._manage()
        self._sequence += 1
        account = self.accounts[rng.randrange(len(self.accounts))]
        account_id = account["account_id"]
        order_id = f"{account_id}-{self._sequence}"
        priced = [symbol for symbol in instruments if symbol in prices]
        if "program_id" in account:
            # Challenge accounts trade the crypto book (as prop firms' programs often do).
            priced = [symbol for symbol in priced if instruments[symbol]["kind"] == "crypto"]
        draw = rng.random()
        if draw < self.bad_share / 3 or not priced:
            return account_id, b'{"order_id": "' + order_id.encode() + b'", "account_id": '
        symbol = rng.choice(priced)
        instrument = instruments[symbol]
        reckless = "max_drawdown_pct" in account
        order: dict = {"order_id": order_id, "account_id": account_id, "symbol": symbol,
                       "side": rng.choice(["buy", "sell"]), "type": "market"}  # fmt: skip
        price = Decimal(prices[symbol])
        if instrument["kind"] == "prediction":
            outcome = rng.choice(["yes", "no"])
            order["outcome"] = outcome
            reference = price if outcome == "yes" else 1 - price
            order["side"] = "buy" if rng.random() < 0.7 else "sell"
            quantity = Decimal(rng.randint(5, 2_000 if reckless else 300))
            tick = Decimal(instrument["tick_size"])
        else:
            reference = price
            lot = Decimal(instrument["lot_size"])
            budget = Decimal(account["starting_balance"]) * Decimal(
                rng.uniform(0.05, 0.9) if reckless else rng.uniform(0.005, 0.08)
            )
            quantity = max((budget / price / lot).to_integral_value() * lot, lot)
            tick = Decimal(instrument["tick_size"])
        if draw < self.bad_share * 2 / 3:
            quantity *= 1000  # oversized: RISK_LIMIT
        elif draw < self.bad_share:
            order["symbol"] = "NOT-LISTED"
        order["quantity"] = str(quantity)
        # Patient accounts only post limit orders: they earn the spread rather than pay it.
        if rng.random() < 0.35 or account_id in self.patient:
            away = Decimal(rng.uniform(0.0, 0.004))
            limit = reference * (1 - away if order["side"] == "buy" else 1 + away)
            limit = max((limit / tick).to_integral_value() * tick, tick)
            if instrument["kind"] == "prediction":
                limit = min(limit, 1 - tick)
            order.update(type="limit", limit_price=str(limit))
            if self.manage_share:
                self._time_in_force(order, account_id, limit, tick)
        elif self.manage_share and instrument["kind"] == "crypto":
            self._protect(order, reference, tick)
        return account_id, json.dumps(order).encode()

    def _protect(self, order: dict, reference: Decimal, tick: Decimal) -> None:
        """Some market orders become brackets (exits 1-3 % away), breakout stops or trailing
        stops."""
        rng = self._rng
        draw = rng.random()
        buy = order["side"] == "buy"

        def away(fraction: float, up: bool) -> str:
            price = reference * Decimal(1 + fraction if up else 1 - fraction)
            return str(max((price / tick).to_integral_value() * tick, tick))

        if draw < 0.15:
            profit, loss = rng.uniform(0.01, 0.03), rng.uniform(0.01, 0.03)
            order.update(take_profit_price=away(profit, buy), stop_loss_price=away(loss, not buy))
        elif draw < 0.25:
            order.update(type="stop_market", trigger_price=away(rng.uniform(0.002, 0.01), buy))
        elif draw < 0.3:
            offset = max((reference * Decimal("0.005") / tick).to_integral_value() * tick, tick)
            order.update(type="trailing_stop_market", trailing_offset=str(offset))

    def _time_in_force(self, order: dict, account_id: str, limit: Decimal, tick: Decimal) -> None:
        draw = self._rng.random()
        if draw < 0.15:
            order["time_in_force"] = "ioc"
        elif draw < 0.3:
            lifetime = timedelta(seconds=self._rng.uniform(5, 60))
            order.update(time_in_force="gtd", expire_at=format_time(self._clock() + lifetime))
        else:
            self._limits.append((account_id, order["order_id"], limit, tick))

    def _manage(self) -> tuple[str, bytes]:
        """Cancel one of the recent limit orders, or move it one tick (it may have ended: the
        engine then says so)."""
        rng = self._rng
        account_id, order_id, limit, tick = self._limits[rng.randrange(len(self._limits))]
        self._limits.remove((account_id, order_id, limit, tick))
        command: dict = {"action": "cancel", "order_id": order_id, "account_id": account_id}
        if rng.random() < 0.5:
            moved = limit + tick if rng.random() < 0.5 else max(limit - tick, tick)
            command.update(action="replace", limit_price=str(moved))
            self._limits.append((account_id, order_id, moved, tick))
        return account_id, json.dumps(command).encode()
