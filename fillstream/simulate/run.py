"""`fillstream simulate market` and `fillstream simulate traders`."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings
from fillstream.simulate.market import MarketModel
from fillstream.simulate.publish import at_rate, publish_paced, upstream_producer
from fillstream.simulate.replay import replay_messages
from fillstream.simulate.traders import TraderModel


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


async def run_market(
    settings: Settings,
    kafka: Kafka,
    *,
    crypto: int,
    prediction: int,
    rate: float | None,
    seconds: float | None,
    seed: int,
    replay: Path | None,
    speed: float,
    quotes: bool,
) -> Throughput:
    producer = upstream_producer(kafka)
    await producer.start()
    started = time.monotonic()
    try:
        if replay is not None:
            messages = replay_messages(replay, speed)
        else:
            start = datetime.now(UTC)
            model = MarketModel(crypto, prediction, seed, rate or 10_000, start, quotes=quotes)
            for instrument in model.instruments():
                await producer.send(
                    settings.topic("instruments"),
                    key=instrument["symbol"].encode(),
                    value=json.dumps(instrument).encode(),
                )
            messages = at_rate(model.ticks(), rate)
        sent = await publish_paced(producer, settings.topic("ticks"), messages, seconds=seconds)
    finally:
        await producer.stop()
    return Throughput(sent, time.monotonic() - started)


class PriceFollower:
    """Instruments and last prices as published on Kafka, followed by a plain consumer."""

    def __init__(self, settings: Settings, kafka: Kafka) -> None:
        self.settings = settings
        self.kafka = kafka
        self.instruments: dict[str, dict] = {}
        self.prices: dict[str, str] = {}

    async def load_instruments(self) -> None:
        consumer = self.kafka.consumer(
            self.settings.topic("instruments"),
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while batches := await consumer.getmany(timeout_ms=1000):
                for records in batches.values():
                    for record in records:
                        instrument = json.loads(record.value)
                        self.instruments[instrument["symbol"]] = instrument
        finally:
            await consumer.stop()

    async def follow_ticks(self, stop: asyncio.Event) -> None:
        consumer = self.kafka.consumer(group_id=None)
        await consumer.start()
        try:
            topic = self.settings.topic("ticks")
            partitions = await self.kafka.partitions(topic)
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, max(ends[tp] - 1000, 0))
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        tick = json.loads(record.value)
                        self.prices[tick["symbol"]] = tick["price"]
        finally:
            await consumer.stop()


async def run_traders(
    settings: Settings,
    kafka: Kafka,
    *,
    accounts: int,
    rate: float | None,
    seconds: float | None,
    seed: int,
    bad_share: float,
    reckless_share: float,
    manage_share: float,
) -> Throughput:
    view = PriceFollower(settings, kafka)
    await view.load_instruments()
    if not view.instruments:
        raise RuntimeError("no instruments published yet: start `fillstream simulate market` first")
    stop = asyncio.Event()
    follower = asyncio.create_task(view.follow_ticks(stop))
    model = TraderModel(accounts, seed, bad_share, reckless_share, manage_share)
    producer = upstream_producer(kafka)
    await producer.start()
    started = time.monotonic()
    try:
        for key, value in model.account_messages():
            await producer.send(settings.topic("accounts"), key=key.encode(), value=value)
        while not view.prices:
            if follower.done():
                follower.result()
                raise RuntimeError("stopped following the ticks topic")
            await asyncio.sleep(0.1)

        def orders():
            while True:
                yield model.order(view.instruments, view.prices)

        sent = await publish_paced(
            producer, settings.topic("orders"), at_rate(orders(), rate), seconds=seconds
        )
    finally:
        stop.set()
        await follower
        await producer.stop()
    return Throughput(sent, time.monotonic() - started)
