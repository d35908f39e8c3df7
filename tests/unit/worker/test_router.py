"""The market router in-process: validation, the event time it settles on, and the batch it
copies to every account partition."""

from __future__ import annotations

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.wire.market_data import MarketDataBatch
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.dead_letters import DeadLetters
from fillstream.worker.faust_adapter import ChangelogWrites
from fillstream.worker.router import Router
from fillstream.worker.sequencing import Sequencer
from tests.unit.worker.fakes import FakeProducer, FakeTopic, Inputs

POLL = {"symbol": "POLL", "kind": "prediction", "taker_fee_bps": "0", "maker_fee_bps": "0",
        "slippage_bps": "0"}  # fmt: skip


async def test_a_batch_reaches_every_partition_once_with_only_the_valid_inputs(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, topic_partitions=3, max_clock_skew_seconds=300)
    market_data, letters = FakeTopic("market-data"), FakeTopic("dead-letters")
    checkpoint = Checkpoint(FakeProducer({"market-data": market_data, "dead-letters": letters}))
    dead_letters = DeadLetters("dead-letters", checkpoint)
    kinds: dict[str, str] = {}
    sequencer = Sequencer("r", {}, checkpoint, dead_letters, Kafka(""), size=1, within=0)
    router = Router(settings, kinds, checkpoint, sequencer)
    inputs = Inputs()
    resolved = {"symbol": "POLL", "result": "yes", "ts": "2026-04-01T10:00:02Z"}
    for topic, key, value in [
        ("instruments", "POLL", POLL),
        ("instruments", "BTC", {**POLL, "symbol": "BTC", "kind": "crypto"}),
        ("ticks", "POLL", {"symbol": "POLL", "price": "0.4", "ts": "2026-04-01T09:59:00Z"}),
        ("ticks", "POLL", {"symbol": "POLL", "price": "1.5", "ts": "2026-04-01T10:00:00Z"}),
        ("instruments", "POLL", {**POLL, "kind": "crypto"}),
        # A year ahead of its record (2026-04-01T10:00:00Z): it takes the record's time.
        ("ticks", "POLL", {"symbol": "POLL", "price": "0.5", "ts": "2027-04-01T10:00:00Z"}),
        # At its bound while it resolves: accepted. A crypto price of 0 is not.
        ("ticks", "POLL", {"symbol": "POLL", "price": "1", "ts": "2026-04-01T10:00:01Z"}),
        ("ticks", "BTC", {"symbol": "BTC", "price": "0", "ts": "2026-04-01T10:00:01Z"}),
        # Resolved once; the same result again passes, another is refused, as is a crypto one.
        ("resolutions", "POLL", resolved),
        ("resolutions", "POLL", {**resolved, "result": "no"}),
        ("resolutions", "POLL", resolved),
        ("resolutions", "BTC", {**resolved, "symbol": "BTC"}),
    ]:
        await dead_letters.guarded(inputs.record(topic, key, value), router.add)
    await router.broadcast()
    await router.broadcast()
    await checkpoint.commit(ChangelogWrites(), lambda: None)

    assert [sent.partition for sent in market_data.sent] == [0, 1, 2]
    assert len({str(sent.value) for sent in market_data.sent}) == 1
    batch = MarketDataBatch.model_validate(market_data.sent[0].value)
    ticks = [(u.tick.price, u.tick.ts.isoformat()) for u in batch.updates if hasattr(u, "tick")]
    assert [str(price) for price, _ in ticks] == ["0.4", "0.5", "1"]
    assert [ts for _, ts in ticks][:2] == ["2026-04-01T09:59:00+00:00", "2026-04-01T10:00:00+00:00"]
    results = [u.resolution for u in batch.updates if hasattr(u, "resolution")]
    assert [(r.symbol, r.result.value, r.ts.isoformat()) for r in results] == [  # type: ignore[union-attr]
        ("POLL", "yes", "2026-04-01T10:00:02+00:00")] * 2  # fmt: skip
    assert [letter["error"] for letter in letters.values()] == [
        "a prediction market's YES price must be in [0, 1], got 1.5",
        "instrument 'POLL' is prediction; its kind cannot change (positions and prices in it "
        "would change meaning)",
        "price must be above 0 (0 only for a prediction market at its bound)",
        "'POLL' has already resolved yes: a resolution is final",
        "'BTC' is not a known prediction market",
    ]
    assert kinds == {
        "POLL": "prediction",
        "BTC": "crypto",
        '["resolution","POLL"]': {"symbol": "POLL", "result": "yes", "yes_payout": None},
    }
