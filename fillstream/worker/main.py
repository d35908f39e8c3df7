"""Builds a pipeline worker from its settings: the app, its topics and tables, the in-memory
state, the two agents and the HTTP routes. `fillstream worker` runs what this returns."""

from __future__ import annotations

from fillstream import metrics
from fillstream.broker.admin import pipeline_topics
from fillstream.settings import Settings
from fillstream.wire.topics import CONTRACT
from fillstream.worker import api, execution, router, status
from fillstream.worker.app import App, create_app
from fillstream.worker.checkpoint import Checkpoint
from fillstream.worker.dead_letters import DeadLetters
from fillstream.worker.faust_adapter import kafka_producer
from fillstream.worker.partition_state import WorkerState
from fillstream.worker.producer import BatchProducer
from fillstream.worker.publishing import Publisher
from fillstream.worker.sequencing import Sequencer
from fillstream.worker.tables import Tables
from fillstream.worker.topics import Topics


def build(settings: Settings, checkpoint: type[Checkpoint] = Checkpoint) -> App:
    """``checkpoint`` is the class of each agent's checkpoint (the chaos tests pass one that
    crashes the process at its most delicate moments)."""
    if settings.processing_guarantee == "exactly_once":
        # faust-streaming ties each transaction to one source partition; the market-data fan-out
        # writes to every partition, and those writes would sit in transactions never committed.
        raise ValueError(
            "the trading pipeline runs at_least_once (idempotent by order id and source offset); "
            "see docs/architecture.md, 'Delivery guarantees'"
        )
    app = create_app(settings, pipeline_topics(settings))
    for contract in CONTRACT:
        if contract.inbound:
            # At 0 from the start: a rate over the first dead letter needs the sample before it.
            metrics.DEAD_LETTERS.labels(settings.topic(contract.name))
    topics = Topics.declare(app, settings)
    tables = Tables.declare(app)
    state = WorkerState(tables)
    # mode's handler type wants an unbound function; a bound method is what it calls.
    app.on_partitions_revoked.connect(state.on_partitions_revoked)  # type: ignore[arg-type]
    producer = BatchProducer(lambda: kafka_producer(app))

    def sequencer(agent: str, checkpoint: Checkpoint, size: int, within: float) -> Sequencer:
        dead_letters = DeadLetters(topics.dead_letters.get_topic_name(), checkpoint)
        return Sequencer(
            agent,
            tables.progress,
            checkpoint,
            dead_letters,
            app.kafka,
            size=size,
            within=within,
        )

    routing = checkpoint(producer)
    market_router = router.Router(
        settings,
        tables.router_instruments,
        routing,
        sequencer("route_market_data", routing, router.BATCH_SIZE, router.BATCH_WINDOW),
    )
    executing = checkpoint(producer)
    executor = execution.Execution(
        settings,
        tables,
        state,
        Publisher(settings, tables.order_status),
        executing,
        sequencer("execute", executing, execution.BATCH_SIZE, execution.BATCH_WINDOW),
    )
    app.agent(topics.symbol_inputs, name="route_market_data")(market_router.run)
    app.agent(topics.account_inputs, name="execute")(executor.run)
    wake = execution.Wake(topics.market_data)
    app.on_partitions_assigned.connect(wake.on_partitions_assigned)  # type: ignore[arg-type]
    status.register(app, settings, tables)
    api.register(app, settings, topics, tables, state)
    return app
