"""The bundled single-node Apache Kafka broker (KRaft), from Maven Central, run on the JDK.

Used for development, tests and the demo. When ``FILLSTREAM_KAFKA_BOOTSTRAP`` is set nothing here
runs: the same code talks to whatever cluster that names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fillstream.settings import Settings

KAFKA_HOME = Path(__file__).resolve().parents[2] / "infra" / "kafka"
STATE_FILE = "broker.json"
READY_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 30.0


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped."""


@dataclass(frozen=True)
class BrokerState:
    pid: int
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class SaslSsl:
    """An extra listener as secured clusters have: TLS with the broker's key and certificate
    (a PKCS12 keystore), clients signing in with SCRAM-SHA-256 or -512 as these users."""

    port: int
    keystore: Path
    keystore_password: str
    users: Mapping[str, str]
    """User name -> password."""

    def properties(self) -> dict[str, str]:
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return {
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.keystore),
            "ssl.keystore.password": self.keystore_password,
            "ssl.key.password": self.keystore_password,
        }

    def scram_arguments(self) -> list[str]:
        """The users, written into the cluster's metadata as the storage is formatted."""
        return [
            argument
            for name, password in self.users.items()
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
            for argument in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_jars(kafka_home: Path = KAFKA_HOME) -> Path:
    """Resolve the broker's classpath with Maven once; later calls find it in place."""
    lib = kafka_home / "lib"
    complete_marker = lib / ".complete"
    if complete_marker.exists():
        return lib
    if not (kafka_home / "pom.xml").exists():
        raise BrokerError(f"no pom.xml in {kafka_home}: run from a fillstream source checkout")
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(kafka_home / "pom.xml"), "dependency:copy-dependencies"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BrokerError(f"mvn could not resolve the Kafka jars:\n{result.stdout}{result.stderr}")
    complete_marker.touch()
    return lib


def read_state(data_dir: Path) -> BrokerState | None:
    path = data_dir / STATE_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    state = BrokerState(pid=raw["pid"], port=raw["port"])
    return state if _alive(state.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is not a running broker.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return True
    return status != "Z"


def _server_properties(
    data_dir: Path, port: int, controller_port: int, secured: SaslSsl | None = None
) -> str:
    listeners = f"PLAINTEXT://127.0.0.1:{port}"
    protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if secured is not None:
        listeners += f",SASL_SSL://127.0.0.1:{secured.port}"
        protocols += ",SASL_SSL:SASL_SSL"
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"{listeners},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": "4",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "group.initial.rebalance.delay.ms": "0",
        # Lets workers ask for session timeouts of a few seconds (failover in seconds).
        "group.min.session.timeout.ms": "1000",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        **(secured.properties() if secured is not None else {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


_LOG4J = """\
log4j.rootLogger=WARN, stdout
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _java(lib: Path, heap: str, log4j: Path, *args: str) -> list[str]:
    return [
        "java",
        f"-Xmx{heap}",
        "-Xms128m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{lib}/*",
        *args,
    ]


def start(
    data_dir: Path, port: int = 0, heap: str = "512m", secured: SaslSsl | None = None
) -> BrokerState:
    """Start the broker in the background unless it already runs; return once it creates topics.
    ``secured`` adds a SASL_SSL listener beside the open one (on a fresh data directory)."""
    data_dir = data_dir.resolve()
    running = read_state(data_dir)
    if running is not None:
        return running
    lib = ensure_jars()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    properties = data_dir / "server.properties"
    properties.write_text(_server_properties(data_dir, port, free_port(), secured))
    log4j = data_dir / "log4j.properties"
    log4j.write_text(_LOG4J)
    if not (data_dir / "logs" / "meta.properties").exists():
        cluster_id = subprocess.run(
            _java(lib, "256m", log4j, "kafka.tools.StorageTool", "random-uuid"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        formatted = subprocess.run(
            [
                *_java(lib, "256m", log4j, "kafka.tools.StorageTool", "format", "-t", cluster_id),
                "-c",
                str(properties),
                *(secured.scram_arguments() if secured is not None else []),
            ],
            capture_output=True,
            text=True,
        )
        if formatted.returncode != 0:
            raise BrokerError(f"StorageTool format failed:\n{formatted.stdout}{formatted.stderr}")
    log = (data_dir / "broker.log").open("ab")
    process = subprocess.Popen(
        _java(lib, heap, log4j, "kafka.Kafka", str(properties)),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    state = BrokerState(pid=process.pid, port=port)
    (data_dir / STATE_FILE).write_text(json.dumps({"pid": state.pid, "port": state.port}))
    try:
        asyncio.run(_wait_until_ready(state, process))
    except BaseException:
        stop(data_dir)
        raise
    return state


async def _wait_until_ready(state: BrokerState, process: subprocess.Popen) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError, TopicAlreadyExistsError

    # Refused connections are expected while the JVM boots; only the final verdict matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"broker exited with {process.returncode}; see broker.log")
        admin = AIOKafkaAdminClient(bootstrap_servers=state.bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.create_topics([NewTopic("__fillstream_ready", 1, 1)])
            return
        except TopicAlreadyExistsError:
            return
        except (KafkaError, OSError) as error:
            last_error = error
        finally:
            await admin.close()
        await asyncio.sleep(0.5)
    raise BrokerError(f"broker not ready after {READY_TIMEOUT_SECONDS}s: {last_error!r}")


def stop(data_dir: Path) -> bool:
    """Stop the broker with SIGTERM (a controlled shutdown), SIGKILL after a timeout."""
    data_dir = data_dir.resolve()
    state_path = data_dir / STATE_FILE
    state = read_state(data_dir)
    if state is None:
        state_path.unlink(missing_ok=True)
        return False
    os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _alive(state.pid) and time.monotonic() < deadline:
        _reap(state.pid)
        time.sleep(0.1)
    if _alive(state.pid):
        os.killpg(state.pid, signal.SIGKILL)
        while _alive(state.pid):
            _reap(state.pid)
            time.sleep(0.05)
    state_path.unlink(missing_ok=True)
    return True


def bootstrap_servers(settings: Settings) -> str:
    """Where every client of the project finds Kafka: the configured cluster, else the running
    local broker, else a clear error."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    state = read_state(settings.kafka_dir)
    if state is None:
        raise BrokerError(
            "no Kafka: set FILLSTREAM_KAFKA_BOOTSTRAP or run `fillstream kafka start` first"
        )
    return state.bootstrap


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
