"""Fuzzing of the decode-and-check path: messages generated from the published JSON Schemas, then
mutated byte by byte, through the codec and the rules. No input may end in an internal error,
and every order that decodes gets an order event; the rest are dead letters.

The default run is short enough for every CI run. ``make prove`` sends 1 000 000 messages
(FILLSTREAM_FUZZ_MESSAGES); docs/topics.md records the result.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from fillstream.core import commands, engine
from fillstream.core.events import OrderEvent
from fillstream.core.model import (
    Account,
    AccountLimits,
    Cancel,
    Evaluation,
    InMemoryOrderIds,
    Kind,
    Market,
    Program,
)
from fillstream.wire.codec import BadMessage, decode
from fillstream.wire.inbound import (
    AccountMessage,
    CancelMessage,
    InstrumentMessage,
    OrderCommand,
    OrderMessage,
    ReplaceMessage,
    TickMessage,
    to_command,
    to_instrument,
    to_order,
)
from fillstream.wire.programs import ProgramMessage, to_program
from tests.unit.core.scenario import crypto, prediction

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"
TOPICS = {
    "orders": OrderCommand,
    "ticks": TickMessage,
    "accounts": AccountMessage,
    "instruments": InstrumentMessage,
    "programs": ProgramMessage,
}
MESSAGES = int(os.environ.get("FILLSTREAM_FUZZ_MESSAGES", "20000"))
SEEDS_PER_TOPIC = int(os.environ.get("FILLSTREAM_FUZZ_SEEDS", "40"))
# Values that have broken decoders before: huge and tiny exponents, signs, non-numbers.
NASTY = [
    b"1e999999999", b"-1e-999999999", b"1E+18", b"0.0000000000000000001", b"-0", b"NaN",
    b"Infinity", b'"1e5000"', b"1" * 5000, b"null", b"true", b'""', b"[]", b"{}", b'"\\u0000"',
    b'"2999-01-01T00:00:00Z"', b'"0001-01-01T00:00:00+14:00"', b'"BTC/USD"', b'"~liquidation-1"',
    b'"0.9999999999999999999"', b"1000000000000.000000000000000001",
]  # fmt: skip


def seeds(topic: str) -> list[bytes]:
    """Messages the topic's JSON Schema allows, as hypothesis-jsonschema draws them."""
    found: list[bytes] = []
    schema = json.loads((SCHEMAS / f"{topic}.json").read_text())
    # Its "$id" would make hypothesis-jsonschema resolve the root's "#/$defs" refs remotely.
    schema.pop("$id")

    @settings(
        max_examples=SEEDS_PER_TOPIC,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(schema))
    def collect(message: dict) -> None:
        found.append(json.dumps(message).encode())

    collect()
    return found


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice == 1:
            data[at:at] = bytes([rng.randrange(256)])
        elif choice == 2:
            del data[at : at + rng.randint(1, 8)]
        elif choice == 3:
            data[at:at] = rng.choice(NASTY)
        elif choice == 4:
            # A value replaced whole: after a colon, up to the next comma or brace.
            colon = data.find(b":", at)
            if colon >= 0:
                end = min(
                    i for i in (data.find(b",", colon), data.find(b"}", colon), len(data)) if i >= 0
                )
                data[colon + 1 : end] = rng.choice(NASTY)
        else:
            data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


class Harness:
    """The rules behind the codec, as the agents drive them: one account with positions and
    resting orders, a crypto and a prediction market."""

    def __init__(self) -> None:
        self.instruments = {"BTC": crypto("BTC"), "PRES": prediction("PRES")}
        self.prices = {"BTC": D("100"), "PRES": D("0.5")}
        self.programs: dict[str, ProgramMessage] = {}
        self.market = Market(self.instruments.get, self.prices.get, program=self._program)
        self.order_ids = InMemoryOrderIds()
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.offset = 0
        self.reset()

    def _program(self, account: Account) -> Program | None:
        evaluation = account.evaluation
        rules = evaluation and self.programs.get(evaluation.program_id)
        if evaluation is None or rules is None:
            return None
        return to_program(rules, evaluation.overrides)

    def reset(self) -> None:
        limits = AccountLimits(D(2), D(100), D(100))
        self.accounts = {"acc": engine.open_account("acc", D(10_000), limits)}

    def handle(self, topic: str, raw: bytes) -> str:
        """'dead letter', 'order event' or 'ok'; anything else raised is an internal error."""
        try:
            message = decode(TOPICS[topic], raw)
        except BadMessage:
            return "dead letter"
        self.offset += 1
        self.clock += timedelta(milliseconds=1)
        if isinstance(message, OrderCommand):
            message = message.root
        if isinstance(message, CancelMessage | ReplaceMessage):
            command = to_command(message)
            account = self.accounts.get(command.account_id)
            if isinstance(command, Cancel):
                events = commands.cancel(account, command, self.order_ids, self.clock)
            else:
                events = commands.replace_order(
                    account, command, self.market, self.order_ids, self.clock
                )
            assert any(isinstance(e, OrderEvent) and e.order_id == command.order_id
                       for e in events), (raw, events)  # fmt: skip
            return "order event"
        if isinstance(message, OrderMessage):
            order = to_order(message)
            events = engine.submit_order(
                self.accounts.get(order.account_id),
                order,
                self.market,
                order_ids=self.order_ids,
                now=self.clock,
                offset=self.offset,
                duplicate_window=timedelta(hours=1),
            )
            mine = [e for e in events if isinstance(e, OrderEvent) and e.order_id == order.order_id]
            assert mine, (raw, events)
            return "order event"
        if isinstance(message, AccountMessage):
            limits = AccountLimits(
                message.max_leverage or D(1),
                message.max_order_pct or D(100),
                message.max_drawdown_pct or D(10),
            )
            account = engine.open_account(message.account_id, message.starting_balance, limits)
            if message.program_id is not None:
                overrides = message.program_overrides
                given = overrides.model_dump(mode="json", exclude_none=True) if overrides else {}
                account.evaluation = Evaluation(message.program_id, given)
            self.accounts[message.account_id] = account
        elif isinstance(message, ProgramMessage):
            self.programs[message.program_id] = message
            # Every account in a program runs the latest: fuzzed rules meet fuzzed orders.
            for account in self.accounts.values():
                if account.evaluation is not None:
                    account.evaluation = Evaluation(message.program_id)
        elif isinstance(message, InstrumentMessage):
            known = self.instruments.get(message.symbol)
            if known is None or known.kind is message.kind:
                self.instruments[message.symbol] = to_instrument(message)
        else:
            instrument = self.instruments.get(message.symbol)
            if instrument is not None and instrument.kind is Kind.PREDICTION and message.price >= 1:
                return "dead letter"
            self.prices[message.symbol] = message.price
            for account in self.accounts.values():
                engine.fill_resting(account, message.symbol, self.market, self.clock)
                engine.mark(account, self.market, self.clock)
        return "ok"


def test_decoder_and_rules_survive_schema_messages_and_mutated_bytes() -> None:
    rng = random.Random(20261122)
    corpus = {topic: seeds(topic) for topic in TOPICS}
    harness = Harness()
    # Positions and resting orders on both markets, so ticks fill and mark something.
    for raw in (
        b'{"order_id":"a","account_id":"acc","symbol":"BTC","side":"buy","type":"market","quantity":"3"}',
        b'{"order_id":"b","account_id":"acc","symbol":"BTC","side":"sell","type":"limit","quantity":"1","limit_price":"150"}',
        b'{"order_id":"c","account_id":"acc","symbol":"PRES","side":"buy","outcome":"yes","type":"limit","quantity":"100","limit_price":"0.4"}',
    ):  # fmt: skip
        assert harness.handle("orders", raw) == "order event"
    outcomes: Counter[str] = Counter()
    for n in range(MESSAGES):
        topic = rng.choice(list(TOPICS))
        raw = rng.choice(corpus[topic])
        if n % 4:
            raw = mutate(raw, rng)
        try:
            outcomes[harness.handle(topic, raw)] += 1
        except AssertionError:
            raise
        except Exception as error:
            raise AssertionError(f"internal error on {topic} {raw!r}: {error!r}") from error
        if n % 10_000 == 0:
            harness.reset()
    assert sum(outcomes.values()) == MESSAGES
    assert outcomes["dead letter"] and outcomes["order event"] and outcomes["ok"]
    print(f"\nwire fuzz: {MESSAGES} messages, 0 internal errors: {dict(outcomes)}")
