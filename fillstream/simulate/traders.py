"""Seeded order flow from simulated accounts, as an upstream trading front end would send it.

Most orders are sound market and limit orders on both kinds of instrument; a configurable share
is deliberately bad (oversized, an unknown symbol, malformed JSON) so that rejections and dead
letters show; reckless accounts trade big on high leverage with a tight drawdown limit. The same
seed and the same prices give the same messages.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from decimal import Decimal

RECKLESS_LIMITS = {"max_leverage": "5", "max_order_pct": "100", "max_drawdown_pct": "2"}


class TraderModel:
    def __init__(self, accounts: int, seed: int, bad_share: float, reckless_share: float) -> None:
        self._rng = random.Random(seed)
        self.bad_share = bad_share
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

    def account_messages(self) -> list[tuple[str, bytes]]:
        return [(a["account_id"], json.dumps(a).encode()) for a in self.accounts]

    def order(
        self, instruments: Mapping[str, dict], prices: Mapping[str, str]
    ) -> tuple[str, bytes]:
        """The next order, given the instruments by symbol and the last price of each."""
        rng = self._rng
        self._sequence += 1
        account = self.accounts[rng.randrange(len(self.accounts))]
        account_id = account["account_id"]
        order_id = f"{account_id}-{self._sequence}"
        priced = [symbol for symbol in instruments if symbol in prices]
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
        if rng.random() < 0.35:
            away = Decimal(rng.uniform(0.0, 0.004))
            limit = reference * (1 - away if order["side"] == "buy" else 1 + away)
            limit = max((limit / tick).to_integral_value() * tick, tick)
            if instrument["kind"] == "prediction":
                limit = min(limit, 1 - tick)
            order.update(type="limit", limit_price=str(limit))
        return account_id, json.dumps(order).encode()
