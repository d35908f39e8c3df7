"""The framework ceiling: a bare Faust agent that updates one RocksDB table row per message."""

from fillstream.settings import Settings
from fillstream.worker.app import create_app

settings = Settings()
app = create_app(settings)
source = app.topic(settings.topic("ceiling-in"))
counts = app.Table("counts", default=int)


@app.agent(source)
async def count(stream):
    async for event in stream.events():
        counts[event.key] += 1
