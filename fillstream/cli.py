"""The ``fillstream`` command: local broker, worker, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fillstream import localkafka
from fillstream.settings import Settings


def _kafka_start(args: argparse.Namespace, settings: Settings) -> int:
    if settings.kafka_bootstrap:
        print(
            f"FILLSTREAM_KAFKA_BOOTSTRAP is set; using {settings.kafka_bootstrap}, nothing started"
        )
        return 0
    data_dir = args.data_dir or settings.kafka_dir
    port = settings.kafka_port if args.port is None else args.port
    state = localkafka.start(data_dir, port=port, heap=settings.kafka_heap)
    print(state.bootstrap)
    return 0


def _kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = args.data_dir or settings.kafka_dir
    stopped = localkafka.stop(data_dir)
    print("stopped" if stopped else "not running")
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.app import app

    sys.argv = ["fillstream", "worker", "--loglevel", args.loglevel]
    app.main()
    return 0


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.sink.main import run_sink

    return run_sink(settings)


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    from fillstream.sink.main import run_sql

    return run_sql(settings, args.query)


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

    demo = roles.add_parser("demo", help="start Kafka and a worker, trade a little, stop")
    demo.add_argument("--seconds", type=float, default=20.0)
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, Settings())
    except localkafka.BrokerError as error:
        print(f"fillstream: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
