"""The framework's own latency: a bare Faust agent that updates one table row per message and
sends the message on, run in either processing guarantee.

Under exactly_once, faust-streaming sends inside the source partition's transaction only to
topics the app also reads (faust-streaming issue #177), so the app reads `echo-out` too.
BENCH_COMMIT_INTERVAL sets `broker_commit_interval`, which under exactly_once is how often
transactions commit and so when a read_committed consumer sees the output.
"""

import os

from fillstream.settings import Settings
from fillstream.worker.app import create_app

settings = Settings()
app = create_app(settings)
app.conf.broker_commit_interval = float(os.environ.get("BENCH_COMMIT_INTERVAL", "2.8"))
source = app.topic(settings.topic("echo-in"))
sink = app.topic(settings.topic("echo-out"))
counts = app.Table("counts", default=int)


@app.agent(source)
async def echo(stream):
    async for event in stream.events():
        counts[event.key] += 1
        await sink.send(key=event.key, value=event.value)


@app.agent(sink)
async def read_echoes(stream):
    async for _echo in stream:
        pass
