"""The sink with faults injected into its ClickHouse client, for the sink's own tests:
``python -m tests.apps.faulty_sink fail-inserts:K`` makes the first K inserts raise;
``python -m tests.apps.faulty_sink kill-after-insert`` SIGKILLs the process after its first
insert, before the sink commits the offset."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from clickhouse_connect.driver.client import Client

from fillstream.settings import Settings
from fillstream.sink.clickhouse import create_client
from fillstream.sink.main import run_sink


class FaultyClient:
    """A clickhouse-connect client whose ``insert_arrow`` fails as the fault says."""

    def __init__(self, client: Client, fault: str) -> None:
        name, _, count = fault.partition(":")
        self._client = client
        self._name = name
        self._remaining = int(count or 0)

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        if self._name == "fail-inserts" and self._remaining > 0:
            self._remaining -= 1
            raise ConnectionError("injected: ClickHouse unavailable")
        result = self._client.insert_arrow(*args, **kwargs)
        if self._name == "kill-after-insert":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def main(fault: str) -> int:
    def connect(settings: Settings) -> Any:
        return FaultyClient(create_client(settings), fault)

    return run_sink(Settings(), connect=connect)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
