"""A minimal Faust app for the foundation tests: deposits summed per key in a RocksDB table.

Each deposit id is applied at most once (the ids live in the table too), so a replay after a
restart under at-least-once cannot double-count: the same discipline the trading ledger follows.

Under exactly_once, faust-streaming sends a record inside the source partition's transaction only
when the destination topic is one the app subscribes to (otherwise the send goes out without a
transaction; faust-streaming issue #177). The app therefore also reads ``totals``.
"""

import json
from decimal import Decimal

from fillstream.settings import Settings
from fillstream.worker.app import create_app

settings = Settings()
app = create_app(settings)
deposits = app.topic(settings.topic("deposits"))
totals = app.topic(settings.topic("totals"))
balances = app.Table("balances", default=None)


@app.agent(deposits)
async def sum_deposits(stream):
    async for event in stream.events():
        payload = json.loads(event.value)
        account = payload["account"]
        state = balances.get(account, {"total": "0", "applied": []})
        if payload["id"] not in state["applied"]:
            state = {
                "total": str(Decimal(state["total"]) + Decimal(payload["amount"])),
                "applied": [*state["applied"], payload["id"]],
            }
            balances[account] = state
        await totals.send(
            key=account.encode(),
            value=json.dumps({"account": account, "deposit": payload["id"], **state}).encode(),
        )


@app.agent(totals)
async def read_totals(stream):
    async for _total in stream:
        pass
