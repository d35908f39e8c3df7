"""The client from the shell: ``fillstream order``, ``account`` and ``dead-letters``. Every
answer is printed as one JSON object per line, for people and for scripts alike."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from fillstream.broker.connection import Kafka
from fillstream.client import dead_letters
from fillstream.client.upstream import Client
from fillstream.core.events import OrderStatus
from fillstream.settings import Settings
from fillstream.wire.inbound import OrderMessage
from fillstream.wire.outbound import OrderEventMessage

NO_ANSWER = 4
REJECTED = 3


def add_commands(roles: argparse._SubParsersAction) -> None:
    order = roles.add_parser("order", help="submit or cancel an order and print its answer")
    actions = order.add_subparsers(dest="action", required=True)
    submit = actions.add_parser("submit", help="send a new order, wait for its terminal event")
    submit.add_argument("--account", required=True)
    submit.add_argument("--symbol", required=True)
    submit.add_argument("--side", required=True, choices=["buy", "sell"])
    submit.add_argument("--quantity", required=True)
    submit.add_argument("--type", default="market")
    submit.add_argument("--limit-price")
    submit.add_argument("--trigger-price")
    submit.add_argument("--outcome", choices=["yes", "no"])
    submit.add_argument("--time-in-force", default="gtc")
    submit.add_argument("--order-id", help="default: a new UUID")
    submit.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")
    submit.set_defaults(handler=_submit)
    cancel = actions.add_parser("cancel", help="cancel an open order, print the answer")
    cancel.add_argument("--account", required=True)
    cancel.add_argument("--order-id", required=True)
    cancel.add_argument("--timeout", type=float, default=30.0)
    cancel.set_defaults(handler=_cancel)

    account = roles.add_parser("account", help="an account as its worker holds it")
    account_actions = account.add_subparsers(dest="action", required=True)
    show = account_actions.add_parser("show", help="balance, equity, positions and open orders")
    show.add_argument("account_id")
    show.set_defaults(handler=_show)

    letters = roles.add_parser("dead-letters", help="read dead letters, send them back")
    letter_actions = letters.add_subparsers(dest="action", required=True)
    tail = letter_actions.add_parser("tail", help="the last dead letters of each partition")
    tail.add_argument("-n", "--last", type=int, default=10)
    tail.add_argument("-f", "--follow", action="store_true", help="then wait for new ones")
    tail.set_defaults(handler=_tail)
    redrive = letter_actions.add_parser(
        "redrive", help="after a fix: send dead letters back to the topics they came from"
    )
    redrive.add_argument("--topic", help="only those from this topic (e.g. orders)")
    redrive.add_argument("--error", help="only those whose error contains this text")
    redrive.set_defaults(handler=_redrive)


def _submit(args: argparse.Namespace, settings: Settings) -> int:
    fields = {
        "order_id": args.order_id or str(uuid.uuid4()),
        "account_id": args.account,
        "symbol": args.symbol,
        "side": args.side,
        "quantity": args.quantity,
        "type": args.type,
        "limit_price": args.limit_price,
        "trigger_price": args.trigger_price,
        "outcome": args.outcome,
        "time_in_force": args.time_in_force,
    }
    try:
        order = OrderMessage.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValueError as error:
        print(f"fillstream order submit: {error}", file=sys.stderr)
        return 2
    return _answer(settings, lambda client: client.submit(order, args.timeout), order.order_id)


def _cancel(args: argparse.Namespace, settings: Settings) -> int:
    return _answer(
        settings,
        lambda client: client.cancel(args.account, args.order_id, args.timeout),
        args.order_id,
    )


def _answer(settings: Settings, ask, order_id: str) -> int:
    async def run() -> OrderEventMessage:
        async with Client(settings) as client:
            return await ask(client)

    try:
        event = asyncio.run(run())
    except TimeoutError:
        print(
            f"fillstream: no answer for order {order_id} yet (it may still rest)", file=sys.stderr
        )
        return NO_ANSWER
    print(event.model_dump_json(exclude_none=True))
    return REJECTED if event.status == OrderStatus.REJECTED else 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    url = f"{settings.advertised_url}/accounts/{urllib.parse.quote(args.account_id, safe='')}"
    request = urllib.request.Request(url)
    if settings.api_key is not None:
        request.add_header("Authorization", f"Bearer {settings.api_key.get_secret_value()}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(json.dumps(json.loads(response.read())))
            return 0
    except urllib.error.HTTPError as error:
        print(f"fillstream account show: {error.code} {error.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"fillstream account show: no worker at {url}: {error.reason}", file=sys.stderr)
        return 1


def _tail(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        kafka = Kafka.from_settings(settings)
        async for letter in dead_letters.tail(settings, kafka, args.last, args.follow):
            print(dead_letters.as_line(letter), flush=True)

    asyncio.run(run())
    return 0


def _redrive(args: argparse.Namespace, settings: Settings) -> int:
    done = asyncio.run(
        dead_letters.redrive(
            settings,
            Kafka.from_settings(settings),
            source_topic=args.topic,
            error_contains=args.error,
        )
    )
    print(json.dumps({"redriven": done.sent, "passed_over": done.passed_over}))
    return 0
