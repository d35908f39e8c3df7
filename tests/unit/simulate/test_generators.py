"""The load generators are deterministic under a seed, and replay reads CSV and Parquet alike."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fillstream.simulate.market import MarketModel
from fillstream.simulate.replay import replay_messages
from fillstream.simulate.traders import TraderModel

START = datetime(2026, 1, 1, tzinfo=UTC)


def ticks(seed: int, count: int = 2000) -> list[tuple[str, bytes]]:
    return list(islice(MarketModel(3, 2, seed, 1000, START).ticks(), count))


def test_same_seed_same_ticks_and_instruments() -> None:
    assert ticks(7) == ticks(7)
    assert ticks(7) != ticks(8)
    assert (
        MarketModel(3, 2, 7, 1000, START).instruments()
        == MarketModel(3, 2, 7, 1000, START).instruments()
    )


def test_ticks_follow_the_contract_and_stay_in_bounds() -> None:
    values = [json.loads(value) for _, value in ticks(3, 5000)]
    assert values[0]["ts"] == "2026-01-01T00:00:00.000Z"
    assert values[1000]["ts"] == "2026-01-01T00:00:01.000Z"  # 1000 ticks/s on the virtual clock
    events = [Decimal(v["price"]) for v in values if v["symbol"].startswith("EVENT-")]
    assert events and all(Decimal("0.01") <= p <= Decimal("0.99") for p in events)
    crypto = [Decimal(v["price"]) for v in values if v["symbol"].startswith("SIM")]
    assert all(p > 0 for p in crypto)


def orders(seed: int, count: int = 500) -> list[tuple[str, bytes]]:
    market = MarketModel(3, 2, 1, 1000, START)
    instruments = {i["symbol"]: i for i in market.instruments()}
    prices = {}
    for symbol, value in islice(market.ticks(), 5):
        prices[symbol] = json.loads(value)["price"]
    model = TraderModel(20, seed, bad_share=0.1, reckless_share=0.1)
    return model.account_messages() + [model.order(instruments, prices) for _ in range(count)]


def test_same_seed_same_orders_with_a_share_of_bad_ones() -> None:
    assert orders(5) == orders(5)
    assert orders(5) != orders(6)
    flow = orders(5, 3000)[20:]
    malformed = [value for _, value in flow if not value.endswith(b"}")]
    parsed = [json.loads(value) for _, value in flow if value.endswith(b"}")]
    unknown = [o for o in parsed if o["symbol"] == "NOT-LISTED"]
    assert 0 < len(malformed) < 200 and 0 < len(unknown) < 200
    assert {o["type"] for o in parsed} == {"market", "limit"}
    assert {o["side"] for o in parsed} == {"buy", "sell"}
    assert any("outcome" in o for o in parsed) and any("outcome" not in o for o in parsed)


def test_replay_reads_csv_and_parquet_and_keeps_the_pace(tmp_path: Path) -> None:
    rows = [
        ("BTC-USD", "64000.5", "2026-02-01T00:00:00Z"),
        ("ETH-USD", "3000.25", "2026-02-01T00:00:02Z"),
        ("BTC-USD", "64001", "2026-02-01T00:00:05Z"),
    ]
    csv_path = tmp_path / "ticks.csv"
    csv_path.write_text("symbol,price,ts\n" + "".join(",".join(r) + "\n" for r in rows))
    parquet_path = tmp_path / "ticks.parquet"
    pq.write_table(
        pa.table({"symbol": [r[0] for r in rows], "price": [r[1] for r in rows],
                  "ts": [r[2] for r in rows]}),
        parquet_path,
    )  # fmt: skip
    for path in (csv_path, parquet_path):
        original = list(replay_messages(path, speed=1))
        assert [due for _, _, due in original] == [0.0, 2.0, 5.0]
        assert json.loads(original[1][1]) == {
            "symbol": "ETH-USD", "price": "3000.25", "ts": "2026-02-01T00:00:02.000Z"
        }  # fmt: skip
        assert [due for _, _, due in replay_messages(path, speed=10)] == [0.0, 0.2, 0.5]
        assert [due for _, _, due in replay_messages(path, speed=0)] == [None, None, None]


def test_traders_cancel_replace_and_give_time_in_force_when_asked() -> None:
    market = MarketModel(3, 2, 1, 1000, START)
    instruments = {i["symbol"]: i for i in market.instruments()}
    prices = {symbol: json.loads(value)["price"] for symbol, value in islice(market.ticks(), 5)}

    def flow(manage_share: float) -> list[dict]:
        model = TraderModel(20, 5, 0.0, 0.1, manage_share=manage_share, clock=lambda: START)
        return [json.loads(model.order(instruments, prices)[1]) for _ in range(3000)]

    managed = flow(0.1)
    assert managed == flow(0.1)
    actions = [m.get("action", "new") for m in managed]
    # A tenth of the messages manage an order (none while no limit order is known yet).
    managing = actions.count("cancel") + actions.count("replace")
    assert 0.07 < managing / len(actions) < 0.11
    assert actions.count("cancel") > 0 and actions.count("replace") > 0
    placed = {m["order_id"]: m for m in managed if "action" not in m}
    for command in (m for m in managed if "action" in m):
        target = placed[command["order_id"]]  # one of the trader's own limit orders
        assert (target["account_id"], target["type"]) == (command["account_id"], "limit")
        assert target.get("time_in_force", "gtc") == "gtc"
    gtd = [m for m in placed.values() if m.get("time_in_force") == "gtd"]
    assert gtd and all("2026-01-01T00:00:05" <= m["expire_at"] <= "2026-01-01T00:01:00.000Z"
                       for m in gtd)  # fmt: skip
    assert any(m.get("time_in_force") == "ioc" for m in placed.values())
    types = {m["type"] for m in placed.values()}
    assert {"stop_market", "trailing_stop_market"} <= types
    brackets = [m for m in placed.values() if "take_profit_price" in m]
    assert brackets and all(
        (Decimal(m["take_profit_price"]) > Decimal(m["stop_loss_price"])) == (m["side"] == "buy")
        for m in brackets
    )
    # Without the share, the flow is the one the benchmarks were measured with.
    assert all("action" not in m and "time_in_force" not in m for m in flow(0.0))
