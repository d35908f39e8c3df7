"""The pipeline's tables, all co-partitioned with the account topics.

Market rows are kept once per partition (key ``symbol@partition``): the router fans each tick and
instrument out to every partition, so an account's checks and marks never leave its partition.
"""

import json

from fillstream.app import app

accounts = app.Table("account-state", default=None, help="account_id -> account document")
instruments = app.Table("instruments", default=None, help="symbol@partition -> instrument")
prices = app.Table("prices", default=None, help="symbol@partition -> last tick")
watchers = app.Table(
    "watchers",
    default=None,
    help="[symbol@partition, account_id] for each account holding or resting on it -> true",
)
router_instruments = app.Table(
    "router-instruments", default=None, help="symbol -> kind, for validating ticks"
)

order_ids = app.Table(
    "order-ids", default=None, help="[account_id, order_id] -> first use and source offset"
)
order_status = app.Table(
    "order-status", default=None, help="[account_id, order_id] -> last status, reason and fills"
)
progress = app.Table("progress", default=None, help="topic#partition -> next offset to process")


def market_key(symbol: str, partition: int) -> str:
    return f"{symbol}@{partition}"


def pair_key(first: str, second: str) -> str:
    """A key of two ids that no two different pairs share, whatever characters the ids hold
    (a plain separator would let ``a/b`` + ``c`` meet ``a`` + ``b/c``)."""
    return json.dumps([first, second], ensure_ascii=False, separators=(",", ":"))


def split_pair_key(key: str) -> tuple[str, str]:
    first, second = json.loads(key)
    return first, second
