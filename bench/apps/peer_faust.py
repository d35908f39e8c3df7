"""The peers' job on a bare Faust agent: parse JSON, add a Decimal to the key's total in a RocksDB
table with a changelog, send one output per input (bench.peers)."""

import json
from decimal import Decimal

from fillstream.settings import Settings
from fillstream.worker.app import create_app

settings = Settings()
app = create_app(settings)
source = app.topic(settings.topic("peers-in"))
out = app.topic(settings.topic("peers-out"))
totals = app.Table("totals", default=str)


@app.agent(source)
async def add(stream):
    async for event in stream.events():
        amount = Decimal(json.loads(event.value)["amount"])
        total = str(Decimal(totals[event.key] or "0") + amount)
        totals[event.key] = total
        await out.send(key=event.key, value=json.dumps({"total": total}).encode())
