"""Kafka as trading firms run it: a worker, the sink and the Python client through a SASL_SSL
listener with SCRAM-SHA-512, on certificates made for the test by openssl."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from fillstream.auth import hash_key
from fillstream.broker import local
from fillstream.broker.admin import ensure_topics, pipeline_topics
from fillstream.broker.connection import Kafka
from fillstream.client import Client
from fillstream.settings import Settings
from fillstream.wire.inbound import AccountMessage, InstrumentMessage, OrderMessage, TickMessage
from tests.pipeline import api_request
from tests.support import ADMIN_KEY, SinkProcess, WorkerProcess, javascript_order, worker_env

pytestmark = pytest.mark.kafka

USER, PASSWORD = "desk-7", "scram-Secret-0451"
KEYSTORE_PASSWORD = "keystore-pass"


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    ca_file: Path

    def settings(self, prefix: str, password: str = PASSWORD) -> dict[str, str]:
        return {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": USER,
            "kafka_sasl_password": password,
            "kafka_ssl_ca_file": str(self.ca_file),
        }


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A CA, and the broker's key and certificate (for 127.0.0.1) signed by it, in a PKCS12
    keystore; returns the CA's PEM file and the keystore."""
    directory.mkdir(parents=True)
    subject = ("-subj", "/CN=fillstream test CA")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", *subject, cwd=directory)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out",
             "broker.csr", "-subj", "/CN=127.0.0.1", cwd=directory)  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "san.cnf",
             cwd=directory)  # fmt: skip
    _openssl("pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile",
             "ca.pem", "-out", "broker.p12", "-passout", f"pass:{KEYSTORE_PASSWORD}",
             cwd=directory)  # fmt: skip
    return directory / "ca.pem", directory / "broker.p12"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    root = tmp_path_factory.mktemp("secured")
    ca_file, keystore = make_certificates(root / "certs")
    listener = local.SaslSsl(local.free_port(), keystore, KEYSTORE_PASSWORD, {USER: PASSWORD})
    local.start(root / "kafka", 0, "512m", secured=listener)
    try:
        yield SecuredBroker(f"127.0.0.1:{listener.port}", ca_file)
    finally:
        local.stop(root / "kafka")


def _client_settings(secured: SecuredBroker, prefix: str, password: str = PASSWORD) -> Settings:
    options = secured.settings(prefix, password)
    return Settings(topic_prefix=prefix, kafka_bootstrap=secured.bootstrap, **options)  # type: ignore[arg-type]


async def test_a_wrong_password_is_refused(
    secured: SecuredBroker, unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    kafka = Kafka.from_settings(_client_settings(secured, f"{unique_id}.", "not-the-password"))
    admin = kafka.admin(request_timeout_ms=5000)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()
    assert "SaslAuthenticationFailed" in caplog.text
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in caplog.text


async def test_worker_sink_and_client_trade_through_sasl_ssl_scram(
    secured: SecuredBroker, unique_id: str, tmp_path: Path
) -> None:
    prefix = f"{unique_id}."
    settings = _client_settings(secured, prefix)
    await ensure_topics(Kafka.from_settings(settings), pipeline_topics(settings), 4)
    options = secured.settings(prefix)
    keys = json.dumps({hash_key(ADMIN_KEY): "admin"})
    env = worker_env(
        secured.bootstrap, tmp_path / "worker", unique_id, prefix, api_keys=keys, **options
    )
    worker = WorkerProcess(
        [sys.executable, "-m", "fillstream.cli", "worker"], env, tmp_path / "w.log"
    )
    sink = SinkProcess(
        secured.bootstrap, unique_id, tmp_path / "sink", tmp_path / "s.log", **options
    )
    worker.start()
    sink.start()
    try:
        async with Client(settings) as client:
            await client.send(InstrumentMessage(symbol="BTC-USD", kind="crypto",
                                                taker_fee_bps=Decimal(10), maker_fee_bps=Decimal(0),
                                                slippage_bps=Decimal(0)))  # fmt: skip
            await client.send(AccountMessage(account_id="ann", starting_balance=Decimal(10_000)))
            await client.send(
                TickMessage(symbol="BTC-USD", price=Decimal("250.5"), ts=datetime.now(UTC))
            )
            deadline = time.monotonic() + 120
            while not _priced(env["FILLSTREAM_WEB_PORT"], "BTC-USD"):
                assert time.monotonic() < deadline and not worker.exited, worker.log_tail()
                await asyncio.sleep(0.2)
            order = OrderMessage(order_id="o1", account_id="ann", symbol="BTC-USD", side="buy",
                                 type="market", quantity=Decimal(4))  # fmt: skip
            event = await client.submit(order, timeout=60)
        assert (event.status, event.filled_quantity, event.avg_price) == (
            "filled", Decimal(4), Decimal("250.5"))  # fmt: skip
        # An upstream system in JavaScript, through the same listener and the same settings.
        sold = await javascript_order(env, "ann", "BTC-USD", "sell", "4", "js-1")
        assert (sold["status"], sold["avg_price"]) == ("filled", "250.5")
        # 4 * 250.5 = 1 002, the fee 10 bps of it: 1.002.
        await asyncio.to_thread(
            sink.wait_for_rows,
            "SELECT order_id, toString(price), toString(fee) FROM trades ORDER BY order_id",
            [["js-1", "250.5", "1.002"], ["o1", "250.5", "1.002"]],
            120,
        )
    finally:
        worker.stop()
        sink.process.stop()
    for process in (worker, sink.process):
        assert PASSWORD not in process.log_path.read_text()


def _priced(port: str, symbol: str) -> bool:
    status, view = api_request(port, "GET", f"/market/{symbol}/")
    return status == 200 and all(tick is not None for tick in view["partitions"].values())
