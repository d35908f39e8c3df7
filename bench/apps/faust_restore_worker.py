"""The pipeline worker with the bulk restore switched off, so `bench.recovery` can put Faust's
own record-at-a-time restore beside it in one run: ``python -m bench.apps.faust_restore_worker``.
"""

import sys

from fillstream.settings import Settings
from fillstream.worker import app as worker_app
from fillstream.worker.main import build
from fillstream.worker.restore import Restored


async def _no_bulk_restore(*args: object) -> Restored:
    return Restored()


if __name__ == "__main__":
    worker_app.restore_tables = _no_bulk_restore  # type: ignore[assignment]
    app = build(Settings())
    sys.argv = ["fillstream", "worker", "--loglevel", "warn"]
    app.main()
