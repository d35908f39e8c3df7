"""Read-only HTTP views of the worker's state, for operators and for tests that must wait on it."""

from __future__ import annotations

from faust.web import Request, Response, View

from fillstream.app import app, settings
from fillstream.tables import tables
from fillstream.tables.tables import market_key


@app.page("/market/{symbol}/")
class MarketView(View):
    """The last tick of a symbol as each account partition on this worker sees it."""

    async def get(self, request: Request, symbol: str) -> Response:
        partitions = {
            str(partition): tables.prices.get(market_key(symbol, partition))
            for partition in range(settings.topic_partitions)
        }
        return self.json({"symbol": symbol, "partitions": partitions})


@app.page("/accounts/{account_id}/")
class AccountView(View):
    """The account's stored state, when this worker holds its partition."""

    async def get(self, request: Request, account_id: str) -> Response:
        document = tables.accounts.get(account_id)
        if document is None:
            return self.json({"error": f"account {account_id!r} not on this worker"}, status=404)
        return self.json(document)
