"""The tables' RocksDB stores keep no write-ahead log: a process killed without closing them
loses its newest writes and their persisted offset together, never one without the other."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import faust

from fillstream.worker.faust_adapter import ChangelogBackedStore, DurableTable

# A child process writes through the store and is killed with SIGKILL, so nothing closes it.
WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    import faust
    from faust.types import TP
    from fillstream.worker import faust_adapter

    faust_adapter.FLUSH_SECONDS = float(sys.argv[2])
    app = faust.App("adapter-test", store="rocksdb://", datadir=sys.argv[1],
                    Table=faust_adapter.DurableTable)
    store = app.Table("accounts", default=None).data
    db = store._db_for_partition(0)
    tp = TP("adapter-test-accounts-changelog", 0)
    for offset in range(1, 7):
        for key in range(100):
            db.put(f"{offset}:{key}".encode(), b"x" * 1000)
        store.set_persisted_offset(tp, offset)
        if offset == 3:
            db.flush(wait=True)
    # Flushes the store started finish in the background: wait for them, not for more.
    deadline = time.monotonic() + 30
    while db.property_int_value("rocksdb.num-immutable-mem-table") and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def run_killed_writer(datadir: Path, flush_seconds: float) -> None:
    child = subprocess.run(
        [sys.executable, "-c", WRITER, str(datadir), str(flush_seconds)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr


def reopened(datadir: Path) -> tuple[int | None, set[int]]:
    """(the persisted offset, the offsets whose writes are all there) after the kill."""
    reader = textwrap.dedent(
        """
        import json, sys
        import faust
        from faust.types import TP
        from fillstream.worker import faust_adapter

        app = faust.App("adapter-test", store="rocksdb://", datadir=sys.argv[1],
                        Table=faust_adapter.DurableTable)
        store = app.Table("accounts", default=None).data
        db = store._db_for_partition(0)
        kept = sorted({int(key.split(b":")[0]) for key in db.keys() if b":" in key})
        complete = [o for o in kept if all(db.get(f"{o}:{k}".encode()) for k in range(100))]
        offset = store.persisted_offset(TP("adapter-test-accounts-changelog", 0))
        print(json.dumps([offset, kept, complete]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", reader, str(datadir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    offset, kept, complete = json.loads(done.stdout)
    assert kept == complete, "a flush kept part of an offset's writes"
    return offset, set(kept)


def wal_bytes(datadir: Path) -> int:
    return sum(path.stat().st_size for path in datadir.rglob("*.log") if path.name != "LOG")


def test_a_kill_loses_the_writes_after_the_last_flush_and_their_offset_with_them(
    tmp_path: Path,
) -> None:
    run_killed_writer(tmp_path, flush_seconds=3600)

    offset, kept = reopened(tmp_path)

    assert (offset, kept) == (3, {1, 2, 3})
    assert wal_bytes(tmp_path) == 0


def test_a_store_is_flushed_once_its_interval_has_passed(tmp_path: Path) -> None:
    run_killed_writer(tmp_path, flush_seconds=0)

    offset, kept = reopened(tmp_path)

    assert (offset, kept) == (6, {1, 2, 3, 4, 5, 6})


def test_tables_get_the_store_without_a_log(tmp_path: Path) -> None:
    app = faust.App("adapter-test", store="rocksdb://", datadir=str(tmp_path), Table=DurableTable)
    assert type(app.Table("accounts", default=None).data) is ChangelogBackedStore
    memory = faust.App("adapter-memory", store="memory://", Table=DurableTable)
    assert type(memory.Table("accounts", default=None).data) is not ChangelogBackedStore
