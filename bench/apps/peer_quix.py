"""The peers' job on Quix Streams: parse JSON, add a Decimal to the key's total in its RocksDB
state (changelogged), send one output per input (bench.peers).

`python -m bench.apps.peer_quix BOOTSTRAP GROUP IN OUT STATE_DIR GUARANTEE`
"""

import sys
from decimal import Decimal

from quixstreams import Application, State


def add(value: dict, state: State) -> dict:
    total = Decimal(state.get("total", "0")) + Decimal(value["amount"])
    state.set("total", str(total))
    return {"total": str(total)}


def main() -> None:
    bootstrap, group, source, sink, state_dir, guarantee = sys.argv[1:7]
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee=guarantee,
        state_dir=state_dir,
        loglevel="WARNING",
        auto_create_topics=True,
    )
    frame = app.dataframe(app.topic(source, value_deserializer="json"))
    frame = frame.apply(add, stateful=True)
    frame.to_topic(app.topic(sink, value_serializer="json"))
    app.run()


if __name__ == "__main__":
    main()
