"""The execution agent in-process: records in, the contract's messages and the tables out, with
dicts for tables and topics that record what is sent (the broker tests prove the same on Kafka)."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from fillstream.broker.connection import Kafka
from fillstream.metrics import WORKER as REGISTRY
from fillstream.settings import Settings
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.dead_letters import DeadLetters
from fillstream.worker.execution import Execution
from fillstream.worker.faust_adapter import ChangelogWrites
from fillstream.worker.inputs import Input
from fillstream.worker.partition_state import WorkerState
from fillstream.worker.publishing import Publisher
from fillstream.worker.router import Router
from fillstream.worker.sequencing import Sequencer
from fillstream.worker.tables import Tables, market_key, pair_key
from tests.unit.worker.fakes import FakeProducer, FakeTopic, Inputs

BTC = {"symbol": "BTC", "kind": "crypto", "taker_fee_bps": "10", "maker_fee_bps": "2",
       "slippage_bps": "0"}  # fmt: skip
COUNTERS = ("fillstream_ticks_applied_total", "fillstream_tick_visits_total")


class Worker:
    """The router and the execution agent of one worker, wired as `worker.main.build` wires
    them, on in-memory tables."""

    def __init__(self, tmp_path, tables: Tables | None = None) -> None:
        self.settings = Settings(data_dir=tmp_path, topic_partitions=1)
        self.tables = tables or Tables.in_memory()
        self.topics = {name: FakeTopic(name) for name in (
            "fills", "order-events", "risk-events", "dead-letters", "market-data")}  # fmt: skip
        self.checkpoint = Checkpoint(FakeProducer(self.topics))
        self.dead_letters = DeadLetters("dead-letters", self.checkpoint)
        unused = Sequencer(
            "unused", {}, self.checkpoint, self.dead_letters, Kafka(""), size=1, within=0
        )
        self.router = Router(self.settings, self.tables.router_instruments, self.checkpoint, unused)
        self.state = WorkerState(self.tables)
        self.execution = Execution(
            self.settings,
            self.tables,
            self.state,
            Publisher(self.settings, self.tables.order_status),
            self.checkpoint,
            unused,
        )
        self.inputs = Inputs()

    async def handle(self, record: Input) -> None:
        """One record as a batch of its own, up to its checkpoint."""
        await self.apply(record)

        def store_progress() -> None:
            self.tables.progress[record.progress_key] = record.offset + 1

        await self.checkpoint.commit(ChangelogWrites(), store_progress)
        self.state.committed()

    async def apply(self, record: Input) -> None:
        """The record's state changes, its outputs still to send (a crash may come now)."""
        router = record.topic in ("instruments", "ticks")
        await self.dead_letters.guarded(
            record, self.router.add if router else self.execution.handle
        )
        if not router:
            self.execution.end_partition(record.partition)

    def restarted(self) -> Worker:
        """Another worker on the durable state: these tables, nothing in memory or in flight."""
        other = Worker(self.settings.data_dir, copy.deepcopy(self.tables))
        other.inputs = self.inputs
        return other

    async def market(self, *updates: tuple[str, str, dict]) -> None:
        """Through the router, and its batch to the execution agent as market-data."""
        for topic, key, value in updates:
            await self.handle(self.inputs.record(topic, key, value))
        sent_before = len(self.topics["market-data"].sent)
        await self.router.broadcast()
        await self.checkpoint.commit(ChangelogWrites(), lambda: None)
        for sent in self.topics["market-data"].sent[sent_before:]:
            await self.handle(
                self.inputs.record("market-data", None, json.dumps(sent.value).encode())
            )

    def order(self, order_id: str, **fields: str) -> dict:
        return {"order_id": order_id, "account_id": "ann", "symbol": "BTC", "side": "buy",
                "type": "market", "quantity": "2", **fields}  # fmt: skip


@pytest.fixture
async def worker(tmp_path) -> Worker:
    worker = Worker(tmp_path)
    ann = {"account_id": "ann", "starting_balance": "1000"}
    await worker.handle(worker.inputs.record("accounts", "ann", ann))
    tick = {"symbol": "BTC", "price": "100", "ts": "2026-04-01T10:00:00Z"}
    await worker.market(("instruments", "BTC", BTC), ("ticks", "BTC", tick))
    return worker


async def test_an_order_fills_and_its_state_and_status_are_stored(worker: Worker) -> None:
    assert worker.topics["risk-events"].values() == [{"type": "account_status",
        "account_id": "ann", "status": "active", "reason": "opened",
        "ts": "2026-04-01T10:00:00.000Z"}]  # fmt: skip
    assert worker.tables.prices[market_key("BTC", 0)] == {
        "symbol": "BTC",
        "price": "100",
        "ts": "2026-04-01T10:00:00.000Z",
    }
    await worker.handle(worker.inputs.record("orders", "ann", worker.order("o1")))
    # 2 at 100 = 200; taker fee 200 * 10 / 10 000 = 0.2; cash 1000 - 200 - 0.2 = 799.8
    (fill,) = worker.topics["fills"].values()
    assert {k: fill[k] for k in ("fill_id", "price", "fee", "cash_after", "equity_after")} == {
        "fill_id": "ann#1", "price": "100", "fee": "0.2", "cash_after": "799.8",
        "equity_after": "999.8"}  # fmt: skip
    assert [e["status"] for e in worker.topics["order-events"].values()] == ["accepted", "filled"]
    assert worker.tables.accounts["ann"]["cash"] == "799.8"
    assert worker.tables.accounts["ann"]["positions"] == {"BTC": {"quantity": "2", "cost": "200"}}
    status = worker.tables.order_status[pair_key("ann", "o1")]
    assert status["status"] == "filled" and [f["fill_id"] for f in status["fills"]] == ["ann#1"]
    assert worker.tables.watchers == {pair_key(market_key("BTC", 0), "ann"): True}


class CountingTable(dict):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[str] = []

    def __setitem__(self, key, value) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


async def test_an_account_changed_many_times_in_a_batch_is_written_once(
    worker: Worker, tmp_path
) -> None:
    """One changelog record per account per batch; until the batch ends, the account is read
    as it is now (an API request, or a record after one that failed part way)."""
    tables = dataclasses.replace(worker.tables, accounts=CountingTable(worker.tables.accounts))
    inputs, worker = worker.inputs, Worker(tmp_path, tables)
    worker.inputs = inputs
    for n in (1, 2, 3):
        record = worker.inputs.record("orders", "ann", worker.order(f"o{n}"))
        await worker.dead_letters.guarded(record, worker.execution.handle)
    assert worker.tables.accounts.writes == []
    state = worker.state.of(0)
    state.forget_accounts()
    # 3 buys of 2 at 100, each with a fee of 0.2: 1000 - 3 * 200.2 = 399.4
    assert str(state.load("ann").cash) == "399.4"
    worker.execution.end_partition(0)
    assert worker.tables.accounts.writes == ["ann"]
    assert worker.tables.accounts["ann"]["cash"] == "399.4"
    assert worker.tables.outboxes == {"0": ["ann"]}


async def test_a_record_the_state_already_holds_repeats_its_outputs_exactly(worker: Worker) -> None:
    """A crash after the outputs were delivered and before progress was stored: the restarted
    worker passes the record over and sends what the account owes again, the same bytes;
    another message with the same id is a duplicate."""
    record = worker.inputs.record("orders", "ann", worker.order("o1"))
    await worker.apply(record)
    await worker.checkpoint.commit(ChangelogWrites(), lambda: None)  # delivered; then the crash
    first = worker.topics["fills"].values() + worker.topics["order-events"].values()
    assert len(first) == 3
    restarted = worker.restarted()
    await restarted.handle(record)
    await restarted.handle(record)
    again = restarted.topics["fills"].values() + restarted.topics["order-events"].values()
    assert again == first
    await restarted.handle(restarted.inputs.record("orders", "ann", worker.order("o1")))
    assert restarted.topics["order-events"].values()[-1]["reason"] == "DUPLICATE_ORDER_ID"
    assert [fill["fill_id"] for fill in restarted.topics["fills"].values()] == ["ann#1"]
    assert restarted.tables.accounts["ann"]["cash"] == "799.8"


async def test_a_change_from_another_input_does_not_drop_what_is_owed(worker: Worker) -> None:
    """The restarted worker meets the account first through another input (a tick that fills
    a resting order) rather than the replayed order: what the account owed goes out first."""
    resting = worker.inputs.record("orders", "ann", worker.order("o1", type="limit",
                                                                 limit_price="90"))  # fmt: skip
    await worker.handle(resting)
    market = worker.inputs.record("orders", "ann", worker.order("o2", quantity="1"))
    await worker.apply(market)  # durable, nothing delivered; then the crash
    restarted = worker.restarted()
    tick = {"symbol": "BTC", "price": "89", "ts": "2026-04-01T10:00:01Z"}
    await restarted.market(("ticks", "BTC", tick))
    fills = [fill["fill_id"] for fill in restarted.topics["fills"].values()]
    assert fills == ["ann#1", "ann#2"]
    assert ("o2", "accepted") in [
        (e["order_id"], e["status"]) for e in restarted.topics["order-events"].values()
    ]


async def test_after_a_crash_outputs_are_the_ones_the_durable_state_owes(worker: Worker) -> None:
    """Crash between the state's checkpoint and the outputs' delivery: a worker restarted on
    that state publishes exactly what the first would have, once the record comes again."""
    record = worker.inputs.record("orders", "ann", worker.order("o1"))
    await worker.apply(record)
    assert worker.topics["fills"].sent == []
    restarted = worker.restarted()
    await restarted.handle(record)
    await worker.checkpoint.commit(ChangelogWrites(), lambda: None)
    assert restarted.topics["fills"].values() == worker.topics["fills"].values()
    assert restarted.topics["order-events"].values() == worker.topics["order-events"].values()
    assert restarted.tables.accounts["ann"] == worker.tables.accounts["ann"]


async def test_a_takeover_sends_what_is_owed_without_waiting_for_the_account(
    worker: Worker,
) -> None:
    """The account is not reached again after the crash: the first record of its partition
    the new worker handles (the empty batch it sends itself on assignment) sends the outputs."""
    await worker.apply(worker.inputs.record("orders", "ann", worker.order("o1")))
    assert worker.topics["fills"].sent == []  # durable, not delivered; then the crash
    restarted = worker.restarted()
    await restarted.handle(restarted.inputs.record("market-data", None, {"updates": []}))
    await worker.checkpoint.commit(
        ChangelogWrites(), lambda: None
    )  # what the lost worker would have sent
    assert restarted.topics["fills"].values() == worker.topics["fills"].values()
    assert restarted.topics["order-events"].values() == worker.topics["order-events"].values()


async def test_a_takeover_sends_nothing_that_was_delivered(worker: Worker) -> None:
    await worker.handle(worker.inputs.record("orders", "ann", worker.order("o1")))
    assert worker.tables.outboxes == {"0": ["ann"]}
    restarted = worker.restarted()
    await restarted.handle(restarted.inputs.record("market-data", None, {"updates": []}))
    assert [topic.sent for topic in restarted.topics.values()] == [[]] * 5


async def test_an_order_rejected_before_its_account_existed_is_rejected_again_on_replay(
    worker: Worker,
) -> None:
    """Delivered, then the crash before progress; the account is registered before the order
    comes again: the replay gives the same answer, not an execution."""
    record = worker.inputs.record("orders", "zed", worker.order("z1", account_id="zed"))
    await worker.apply(record)
    await worker.checkpoint.commit(ChangelogWrites(), lambda: None)
    (rejection,) = worker.topics["order-events"].values()
    assert (rejection["status"], rejection["reason"]) == ("rejected", "UNKNOWN_ACCOUNT")
    restarted = worker.restarted()
    zed = {"account_id": "zed", "starting_balance": "1000"}
    await restarted.handle(restarted.inputs.record("accounts", "zed", zed))
    await restarted.handle(record)
    assert restarted.topics["order-events"].values() == [rejection]
    assert restarted.topics["fills"].sent == []
    again = restarted.inputs.record("orders", "zed", worker.order("z1", account_id="zed"))
    await restarted.handle(again)  # the same id in a new message: a duplicate
    assert restarted.topics["order-events"].values()[-1]["reason"] == "DUPLICATE_ORDER_ID"


async def test_after_a_crash_before_the_state_was_durable_the_order_runs_once(
    worker: Worker,
) -> None:
    """Nothing of the lost run was published, so the replay publishes for the first time,
    against the market as it is now; the account holds that one execution."""
    durable = worker.restarted()
    record = worker.inputs.record("orders", "ann", worker.order("o1"))
    await worker.apply(record)  # lost: neither state nor outputs survive
    tick = {"symbol": "BTC", "price": "101", "ts": "2026-04-01T10:00:01Z"}
    await durable.market(("ticks", "BTC", tick))
    await durable.handle(record)
    (fill,) = durable.topics["fills"].values()
    # 2 at 101 = 202, fee 0.202: cash 1000 - 202.202
    assert (fill["fill_id"], fill["price"], fill["cash_after"]) == ("ann#1", "101", "797.798")
    assert durable.tables.accounts["ann"]["cash"] == "797.798"


async def test_a_resting_limit_fills_on_the_tick_through_it(worker: Worker) -> None:
    await worker.handle(
        worker.inputs.record("orders", "ann", worker.order("o1", type="limit", limit_price="90"))
    )
    assert worker.topics["fills"].sent == []
    await worker.market(("ticks", "BTC", {"symbol": "BTC", "price": "89",
                                          "ts": "2026-04-01T10:00:01Z"}))  # fmt: skip
    # maker: 2 at 90 = 180, fee 180 * 2 / 10 000 = 0.036; cash 1000 - 180.036
    (fill,) = worker.topics["fills"].values()
    assert (fill["price"], fill["fee"], fill["liquidity"], fill["cash_after"]) == (
        "90", "0.036", "maker", "819.964")  # fmt: skip
    assert worker.tables.accounts["ann"]["resting"] == []


async def test_a_tick_visits_only_the_accounts_whose_levels_it_reaches(worker: Worker) -> None:
    await worker.handle(worker.inputs.record("orders", "ann", worker.order("o1")))
    # 2 BTC at 100, fee 0.2: cash 799.8, equity 999.8 below the peak of 1000, so a rise to 100.1
    # may raise the peak: the band's top
    before = {name: REGISTRY.get_sample_value(name) or 0 for name in COUNTERS}
    for second, price in enumerate(["100.05", "100.2", "100.15"], start=1):
        tick = {"symbol": "BTC", "price": price, "ts": f"2026-04-01T10:00:0{second}Z"}
        await worker.market(("ticks", "BTC", tick))
    counted = {name: REGISTRY.get_sample_value(name) - before[name] for name in COUNTERS}
    # 100.05: inside; 100.2: a new peak, 799.8 + 200.4 = 1000.2; 100.15: inside again
    assert counted == {"fillstream_ticks_applied_total": 3, "fillstream_tick_visits_total": 1}
    assert worker.tables.accounts["ann"]["peak_equity"] == "1000.2"


async def test_bad_messages_go_to_the_dead_letters_and_processing_goes_on(worker: Worker) -> None:
    await worker.handle(worker.inputs.record("orders", "bob", worker.order("o1")))
    await worker.handle(worker.inputs.record("orders", "ann", b"{oops"))
    tick = {"symbol": "BTC", "price": "-1", "ts": "2026-04-01T10:00:01Z"}
    await worker.handle(worker.inputs.record("ticks", "BTC", tick))
    errors = [letter["error"] for letter in worker.topics["dead-letters"].values()]
    assert errors[0] == "key 'bob' must equal account_id 'ann'"
    assert errors[1].startswith("malformed JSON")
    assert errors[2].startswith("schema: price")
    await worker.handle(worker.inputs.record("orders", "ann", worker.order("o2")))
    assert [fill["fill_id"] for fill in worker.topics["fills"].values()] == ["ann#1"]


async def test_outputs_sent_again_stay_owed_until_delivered(worker: Worker) -> None:
    """Two crashes in a row: the first restart sends an account's owed outputs again and the
    same batch changes the account once more; if that batch dies too, the owed outputs must
    still be in the account's document for the second restart to send."""
    first = worker.inputs.record("orders", "ann", worker.order("o1"))
    await worker.apply(first)  # durable, nothing delivered
    once = worker.restarted()
    await once.apply(first)  # owed outputs queued again
    second = worker.inputs.record("orders", "ann", worker.order("o2", quantity="1"))
    await once.apply(second)  # the same batch changes ann again; then it dies too
    twice = once.restarted()
    await twice.handle(first)
    await twice.handle(second)
    fills = [fill["fill_id"] for fill in twice.topics["fills"].values()]
    assert fills == ["ann#1", "ann#2"]
    opened = [(e["order_id"], e["status"]) for e in twice.topics["order-events"].values()]
    assert ("o1", "accepted") in opened and ("o2", "accepted") in opened


async def test_cancel_and_replace_travel_on_the_orders_topic(worker: Worker) -> None:
    resting = worker.order("b1", type="limit", limit_price="90")
    await worker.handle(worker.inputs.record("orders", "ann", resting))
    replace = {"action": "replace", "order_id": "b1", "account_id": "ann", "limit_price": "95"}
    await worker.handle(worker.inputs.record("orders", "ann", replace))
    assert worker.tables.accounts["ann"]["resting"][0]["limit_price"] == "95"
    cancel = {"action": "cancel", "order_id": "b1", "account_id": "ann"}
    await worker.handle(worker.inputs.record("orders", "ann", cancel))
    await worker.handle(worker.inputs.record("orders", "ann", cancel))
    events = [(e["status"], e.get("reason"), e.get("detail"))
              for e in worker.topics["order-events"].values()]  # fmt: skip
    assert events == [
        ("accepted", None, None),
        ("replaced", None, "limit_price 90 -> 95"),
        ("cancelled", None, "cancelled by the trader"),
        ("cancel_rejected", "ORDER_CLOSED", "order 'b1' is no longer open"),
    ]
    assert worker.tables.accounts["ann"]["resting"] == []
    assert worker.tables.watchers == {}
    # The refused cancel leaves the order's status as the cancel left it.
    assert worker.tables.order_status[pair_key("ann", "b1")]["status"] == "cancelled"
    tick = {"symbol": "BTC", "price": "80", "ts": "2026-04-01T10:00:05Z"}
    await worker.market(("ticks", "BTC", tick))
    assert worker.topics["fills"].sent == []


async def test_a_trailing_stop_keeps_its_trail_in_the_stored_account(worker: Worker) -> None:
    """The trigger moves without an event (here with no position, so no equity moves either);
    the account is stored all the same, so a worker taking over trails from where it got to."""
    trailing = worker.order("t1", type="trailing_stop_market", trailing_offset="5", quantity="1")
    await worker.handle(worker.inputs.record("orders", "ann", trailing))
    assert worker.tables.accounts["ann"]["resting"][0]["trigger_price"] == "105"
    tick = {"symbol": "BTC", "price": "90", "ts": "2026-04-01T10:00:05Z"}
    await worker.market(("ticks", "BTC", tick))
    restarted = worker.restarted()
    assert restarted.tables.accounts["ann"]["resting"][0]["trigger_price"] == "95"
    tick = {"symbol": "BTC", "price": "96", "ts": "2026-04-01T10:00:06Z"}
    await restarted.market(("ticks", "BTC", tick))
    statuses = [e["status"] for e in restarted.topics["order-events"].values()]
    assert statuses[-2:] == ["triggered", "filled"]
    assert restarted.topics["fills"].values()[-1]["price"] == "96"


async def test_a_cancel_refused_before_its_account_existed_is_refused_alike_on_replay(
    worker: Worker,
) -> None:
    cancel = {"action": "cancel", "order_id": "z1", "account_id": "zed"}
    record = worker.inputs.record("orders", "zed", cancel)
    await worker.apply(record)
    await worker.checkpoint.commit(ChangelogWrites(), lambda: None)  # delivered; then the crash
    (refusal,) = worker.topics["order-events"].values()
    assert (refusal["status"], refusal["reason"]) == ("cancel_rejected", "UNKNOWN_ACCOUNT")
    restarted = worker.restarted()
    zed = {"account_id": "zed", "starting_balance": "1000"}
    await restarted.handle(restarted.inputs.record("accounts", "zed", zed))
    await restarted.handle(record)
    assert restarted.topics["order-events"].values() == [refusal]  # not UNKNOWN_ORDER


async def test_a_control_refused_before_its_account_existed_is_refused_alike_on_replay(
    worker: Worker,
) -> None:
    halt = {"account_id": "zed", "action": "halt", "operator": "desk"}
    record = worker.inputs.record("controls", "zed", halt)
    await worker.apply(record)
    await worker.checkpoint.commit(ChangelogWrites(), lambda: None)  # delivered; then the crash
    (refusal,) = [e for e in worker.topics["risk-events"].values() if e["type"] == "control"]
    assert (refusal["result"], refusal["detail"]) == ("refused", "no such account")
    restarted = worker.restarted()
    zed = {"account_id": "zed", "starting_balance": "1000"}
    await restarted.handle(restarted.inputs.record("accounts", "zed", zed))
    await restarted.handle(record)
    # The same refusal, not a halt of the account opened since.
    assert [e for e in restarted.topics["risk-events"].values() if e["type"] == "control"] == [
        refusal]  # fmt: skip
