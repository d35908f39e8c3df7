"""Seeded price paths: geometric Brownian motion for crypto, a bounded walk for prediction markets.

The model is pure and deterministic: the same seed gives the same instruments and the same ticks,
with timestamps on a virtual clock that advances by 1 / rate per tick. With quotes, each tick
also carries a bid and an ask a few ticks either side of the price, their sizes and the trade's
size (about as much as the simulated traders' orders, so some fill in parts).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from fillstream.wire.times import format_time


@dataclass
class SymbolPath:
    symbol: str
    kind: str
    price: float
    volatility: float  # per square root of a second
    decimals: int

    def quoted(self) -> str:
        return f"{self.price:.{self.decimals}f}"


class MarketModel:
    def __init__(
        self,
        crypto: int,
        prediction: int,
        seed: int,
        rate: float,
        start: datetime,
        *,
        quotes: bool = False,
    ) -> None:
        self._rng = random.Random(seed)
        self._quotes = quotes
        self.paths: list[SymbolPath] = []
        for n in range(crypto):
            price = self._rng.choice([20.0, 150.0, 3_000.0, 60_000.0]) * self._rng.uniform(0.8, 1.2)
            self.paths.append(
                SymbolPath(f"SIM{n}-USD", "crypto", price, self._rng.uniform(0.001, 0.004), 2)
            )
        for n in range(prediction):
            yes = self._rng.uniform(0.2, 0.8)
            self.paths.append(
                SymbolPath(f"EVENT-{n}", "prediction", yes, self._rng.uniform(0.01, 0.04), 3)
            )
        self._dt = 1.0 / rate
        self._start = start
        self._count = 0

    def instruments(self) -> list[dict]:
        return [
            {
                "symbol": path.symbol,
                "kind": path.kind,
                "taker_fee_bps": "5" if path.kind == "crypto" else "20",
                "maker_fee_bps": "1" if path.kind == "crypto" else "0",
                "slippage_bps": "2" if path.kind == "crypto" else "0",
                "tick_size": "0.01" if path.kind == "crypto" else "0.001",
                "lot_size": "0.001" if path.kind == "crypto" else "1",
            }
            for path in self.paths
        ]

    def ticks(self) -> Iterator[tuple[str, bytes]]:
        """Endless (key, JSON value) ticks, the symbols in turn."""
        paths = self.paths
        gauss = self._rng.gauss
        while True:
            path = paths[self._count % len(paths)]
            step = math.sqrt(self._dt * len(paths))
            if path.kind == "crypto":
                sigma = path.volatility
                path.price *= math.exp(-0.5 * sigma * sigma * step * step + sigma * step * gauss())
            else:
                logit = math.log(path.price / (1 - path.price)) + path.volatility * step * gauss()
                path.price = min(max(1 / (1 + math.exp(-logit)), 0.01), 0.99)
            ts = self._start + timedelta(seconds=self._count * self._dt)
            self._count += 1
            quote = self._quote(path) if self._quotes else ""
            value = (
                f'{{"symbol":"{path.symbol}","price":"{path.quoted()}",'
                f'"ts":"{format_time(ts)}"{quote}}}'
            )
            yield path.symbol, value.encode()

    def _quote(self, path: SymbolPath) -> str:
        """Bid and ask 1 to 5 ticks either side of the price, and sizes: crypto's worth 100 to
        5 000 (the trade) and 500 to 20 000 (each side), prediction shares by the 10 to 500."""
        rng = self._rng
        tick = 10.0**-path.decimals
        bid = max(round(path.price, path.decimals) - rng.randint(1, 5) * tick, tick)
        ask = round(path.price, path.decimals) + rng.randint(1, 5) * tick
        if path.kind == "crypto":
            sizes = [f"{rng.uniform(low, high) / path.price:.3f}" for low, high in
                     ((100, 5_000), (500, 20_000), (500, 20_000))]  # fmt: skip
        else:
            ask = min(ask, 1 - tick)
            sizes = [str(rng.randint(10, 500)) for _ in range(3)]
        size, bid_size, ask_size = (value if float(value) > 0 else "0.001" for value in sizes)
        d = path.decimals
        return (
            f',"size":"{size}","bid":"{bid:.{d}f}","ask":"{ask:.{d}f}",'
            f'"bid_size":"{bid_size}","ask_size":"{ask_size}"'
        )
