"""The ``fillstream`` command: local broker, worker, demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from fillstream.broker import local
from fillstream.settings import Settings


def _kafka_start(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        print(
            f"FILLSTREAM_KAFKA_BOOTSTRAP is set; using {settings.kafka_bootstrap}, nothing started"
        )
        return 0
    data_dir = args.data_dir or settings.kafka_dir
    port = settings.kafka_port if args.port is None else args.port
    state = local.start(data_dir, port=port, heap=settings.kafka_heap)
    print(state.bootstrap)
    return 0


def _kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = args.data_dir or settings.kafka_dir
    stopped = local.stop(data_dir)
    print("stopped" if stopped else "not running")
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.broker.admin import TopicMismatch
    from fillstream.worker.main import build

    app = build(settings)
    try:
        # Before Faust starts: a topic it cannot run on stops it here, with one line.
        asyncio.run(app.ensure_topics())
    except TopicMismatch as mismatch:
        print(f"fillstream worker: {mismatch}", file=sys.stderr)
        return 2
    # Faust's start-up banner is not a log record: with JSON log lines, nothing else is printed.
    quiet = ["--quiet"] if settings.log_format == "json" else []
    sys.argv = ["fillstream", *quiet, "worker", "--loglevel", args.loglevel]
    app.main()
    return 0


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.sink.main import run_sink

    return run_sink(settings)


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.sink.main import run_sql

    return run_sql(settings, args.query)


def _simulate_market(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.broker.connection import Kafka
    from fillstream.simulate.run import run_market

    kafka = Kafka.from_settings(settings)
    result = asyncio.run(
        run_market(
            settings,
            kafka,
            crypto=args.crypto,
            prediction=args.prediction,
            rate=args.rate or None,
            seconds=args.seconds,
            seed=args.seed,
            replay=args.replay,
            speed=args.speed,
            quotes=args.quotes,
        )
    )
    print(f"{result.messages} ticks in {result.seconds:.1f} s: {result.rate:,.0f} ticks/s")
    return 0


def _simulate_traders(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.broker.connection import Kafka
    from fillstream.simulate.run import run_traders

    kafka = Kafka.from_settings(settings)
    result = asyncio.run(
        run_traders(
            settings,
            kafka,
            accounts=args.accounts,
            rate=args.rate or None,
            seconds=args.seconds,
            seed=args.seed,
            bad_share=args.bad_share,
            reckless_share=args.reckless_share,
            manage_share=args.manage_share,
        )
    )
    print(f"{result.messages} orders in {result.seconds:.1f} s: {result.rate:,.0f} orders/s")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.demo import run_demo

    return run_demo(settings, seconds=args.seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fillstream", description=__doc__)
    roles = parser.add_subparsers(dest="command", required=True)

    kafka = roles.add_parser("kafka", help="the bundled local Kafka broker")
    kafka_actions = kafka.add_subparsers(dest="action", required=True)
    start = kafka_actions.add_parser("start", help="fetch jars if needed, start, wait until ready")
    start.add_argument("--port", type=int, default=None, help="0 picks a free port")
    start.add_argument("--data-dir", type=Path, default=None)
    start.set_defaults(handler=_kafka_start)
    stop = kafka_actions.add_parser("stop", help="stop the local broker cleanly")
    stop.add_argument("--data-dir", type=Path, default=None)
    stop.set_defaults(handler=_kafka_stop)

    worker = roles.add_parser("worker", help="run a Faust worker of the trading pipeline")
    worker.add_argument(
        "--loglevel", "-l", default="warn", choices=["crit", "error", "warn", "info", "debug"]
    )
    worker.set_defaults(handler=_worker)

    sink = roles.add_parser("sink", help="write fills, order and risk events to ClickHouse")
    sink.set_defaults(handler=_sink)

    sql = roles.add_parser("sql", help="run a read-only query on the sunk data")
    sql.add_argument("query")
    sql.set_defaults(handler=_sql)

    simulate = roles.add_parser("simulate", help="load sources acting as upstream systems")
    generators = simulate.add_subparsers(dest="generator", required=True)
    market = generators.add_parser("market", help="ticks: a seeded simulation or a file replay")
    market.add_argument("--crypto", type=int, default=4, help="crypto symbols (GBM)")
    market.add_argument("--prediction", type=int, default=2, help="prediction markets")
    market.add_argument("--rate", type=float, default=1000, help="ticks/s; 0: as fast as possible")
    market.add_argument("--seconds", type=float, default=None, help="stop after (default: never)")
    market.add_argument("--seed", type=int, default=1)
    market.add_argument("--replay", type=Path, default=None, help="CSV or Parquet: symbol,price,ts")
    market.add_argument("--speed", type=float, default=1.0, help="replay pace; 0: fast as possible")
    market.add_argument(
        "--quotes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bid, ask and sizes with each simulated tick",
    )
    market.set_defaults(handler=_simulate_market)
    traders = generators.add_parser("traders", help="accounts and their orders")
    traders.add_argument("--accounts", type=int, default=20)
    traders.add_argument("--rate", type=float, default=200, help="orders/s; 0: as fast as possible")
    traders.add_argument("--seconds", type=float, default=None, help="stop after (default: never)")
    traders.add_argument("--seed", type=int, default=1)
    traders.add_argument("--bad-share", type=float, default=0.02, help="deliberately bad orders")
    traders.add_argument("--reckless-share", type=float, default=0.1, help="reckless accounts")
    traders.add_argument(
        "--manage-share", type=float, default=0.1, help="cancels and replaces of limit orders"
    )
    traders.set_defaults(handler=_simulate_traders)

    from fillstream.client.shell import add_commands

    add_commands(roles)

    demo = roles.add_parser("demo", help="start Kafka and a worker, trade a little, stop")
    demo.add_argument("--seconds", type=float, default=60.0)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, Settings())
    except (local.BrokerError, RuntimeError) as error:
        print(f"fillstream: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
