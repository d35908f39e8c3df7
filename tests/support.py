"""Test helpers: worker processes, a plain upstream producer and a downstream reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from fillstream.auth import hash_key
from fillstream.broker.local import free_port
from fillstream.settings import Settings
from fillstream.sink.http import ask

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKER_STOP_TIMEOUT_SECONDS = 60.0


@dataclass
class WorkerProcess:
    """A worker in its own OS process, as in production: it can be stopped, killed and restarted."""

    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def stop(self) -> None:
        """SIGTERM: Faust's graceful shutdown commits offsets and flushes the changelogs."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(WORKER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


ADMIN_KEY = "test-admin-key"


def worker_env(
    bootstrap: str,
    data_dir: Path,
    app_id: str,
    topic_prefix: str,
    **extra: str,
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FILLSTREAM_")}
    env.update(
        FILLSTREAM_KAFKA_BOOTSTRAP=bootstrap,
        FILLSTREAM_DATA_DIR=str(data_dir),
        FILLSTREAM_APP_ID=app_id,
        FILLSTREAM_TOPIC_PREFIX=topic_prefix,
        FILLSTREAM_WEB_PORT=str(free_port()),
        FILLSTREAM_CONFIG=str(data_dir / "no-config.toml"),
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update({f"FILLSTREAM_{key.upper()}": value for key, value in extra.items()})
    return env


def faust_worker_command(app_module: str) -> list[str]:
    return [sys.executable, "-m", "faust", "-A", app_module, "worker", "-l", "warn"]


async def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 4, config: dict | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, partitions, 1, topic_configs=config or {})]
                )
    finally:
        await admin.close()


class Upstream:
    """A plain Kafka producer, as any upstream system would use: JSON bytes, string keys."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def __aenter__(self) -> Upstream:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: str | None, value: Any) -> None:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await self._producer.send_and_wait(
            topic, key=key.encode() if key is not None else None, value=raw
        )


class Downstream:
    """A plain consumer reading a topic from the beginning, as a downstream system would."""

    def __init__(self, bootstrap: str, *topics: str, read_committed: bool = True) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
        self.records: list[Any] = []

    async def __aenter__(self) -> Downstream:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll_until(
        self,
        done: Callable[[list[Any]], bool],
        timeout: float = 60.0,
        worker: WorkerProcess | None = None,
    ) -> list[Any]:
        """Collect records until ``done(records)`` holds; fail with what arrived on timeout."""
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if worker is not None and worker.exited:
                raise AssertionError(f"worker exited:\n{worker.log_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s with {len(self.records)} records")
            batches = await self._consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batches.values():
                self.records.extend(records)
        return self.records

    async def drain(self, quiet_seconds: float = 2.0) -> list[Any]:
        """Read until nothing new arrives for ``quiet_seconds``: proof that nothing extra came."""
        while True:
            batches = await self._consumer.getmany(timeout_ms=int(quiet_seconds * 1000))
            if not batches:
                return self.records
            for records in batches.values():
                self.records.extend(records)


def json_values(records: list[Any]) -> list[dict]:
    return [json.loads(record.value) for record in records]


class SinkProcess:
    """The ClickHouse sink in its own OS process (``extra``: more FILLSTREAM_ settings)."""

    def __init__(
        self, bootstrap: str, unique_id: str, data_dir: Path, log: Path, **extra: str
    ) -> None:
        admin = json.dumps({hash_key(ADMIN_KEY): "admin"})
        self.env = worker_env(
            bootstrap, data_dir, unique_id, f"{unique_id}.", api_keys=admin, **extra
        )
        self.settings = Settings(topic_prefix=f"{unique_id}.", kafka_bootstrap=bootstrap)
        self.log = log
        self.process = WorkerProcess([], self.env, log)
        self.port = int(self.env["FILLSTREAM_WEB_PORT"])
        self.env["FILLSTREAM_SINK_PORT"] = str(self.port)

    def start(self, fault: str | None = None) -> None:
        """The sink, or with a fault in its ClickHouse client (tests.apps.faulty_sink)."""
        command = (
            [sys.executable, "-m", "tests.apps.faulty_sink", fault]
            if fault
            else [sys.executable, "-m", "fillstream.cli", "sink"]
        )
        self.process = WorkerProcess(command, self.env, self.log)
        self.process.start()

    def sql(self, query: str) -> list[list] | None:
        try:
            return ask(f"http://127.0.0.1:{self.port}", query, ADMIN_KEY, timeout=10)["rows"]
        except OSError:
            return None

    def status(self) -> dict | None:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{self.port}/status")
            request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
            with urllib.request.urlopen(request, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())
        except OSError:
            return None

    def wait_for_rows(self, query: str, expected: list[list], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        rows = None
        while time.monotonic() < deadline:
            if self.process.exited:
                raise AssertionError(f"sink exited:\n{self.process.log_tail()}")
            rows = self.sql(query)
            if rows == expected:
                return
            time.sleep(0.2)
        raise AssertionError(f"{query} gave {rows}, expected {expected}")


JAVASCRIPT_EXAMPLE = REPO_ROOT / "examples" / "javascript"


async def javascript_order(env: dict[str, str], *args: str) -> dict:
    """`examples/javascript/submit_order.mjs` with these settings and arguments (its
    dependencies installed first, from the lock file): the terminal event it prints."""
    npm = shutil.which("npm")
    assert npm, "node and npm are needed for the JavaScript example (`make test` installs them)"
    install = await asyncio.create_subprocess_exec(
        npm, "ci", "--no-audit", "--no-fund", cwd=JAVASCRIPT_EXAMPLE,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await install.communicate()
    assert install.returncode == 0, err.decode()
    node = await asyncio.create_subprocess_exec(
        "node", "submit_order.mjs", *args, cwd=JAVASCRIPT_EXAMPLE, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(node.communicate(), 120)
    assert node.returncode == 0, err.decode()
    return json.loads(out)
