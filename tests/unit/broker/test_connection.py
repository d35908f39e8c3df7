"""Every client gets the same security, and only the pass-through options it takes."""

from __future__ import annotations

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from fillstream.broker.connection import Kafka
from fillstream.settings import Settings


def _settings(**given: object) -> Settings:
    return Settings(kafka_bootstrap="b1:9093,b2:9093", **given)  # type: ignore[arg-type]


def test_sasl_plaintext_reaches_every_client_with_the_options_each_takes() -> None:
    kafka = Kafka.from_settings(
        _settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-256",
            kafka_sasl_username="desk",
            kafka_sasl_password="pw",
            kafka_client_options={"client_id": "desk-7", "fetch_max_bytes": 1024, "acks": 1},
        )
    )
    security = {
        "bootstrap_servers": "b1:9093,b2:9093",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "desk",
        "sasl_plain_password": "pw",
    }
    assert kafka.settings(AIOKafkaProducer, linger_ms=5) == {
        "client_id": "desk-7", "acks": 1, **security, "linger_ms": 5}  # fmt: skip
    assert kafka.settings(AIOKafkaConsumer) == {
        "client_id": "desk-7", "fetch_max_bytes": 1024, **security}  # fmt: skip
    assert kafka.settings(AIOKafkaAdminClient) == {"client_id": "desk-7", **security}
    credentials = kafka.faust_settings()["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value, credentials.username) == (
        "SASL_PLAINTEXT", "SCRAM-SHA-256", "desk")  # fmt: skip
    assert kafka.faust_settings()["broker"] == "kafka://b1:9093,b2:9093"
    assert "pw" not in repr(kafka)


def test_an_option_no_client_takes_stops_the_process() -> None:
    with pytest.raises(ValueError, match=r"no aiokafka client takes \['fetch_max_byte'\]"):
        Kafka.from_settings(_settings(kafka_client_options={"fetch_max_byte": 1}))


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="needs FILLSTREAM_KAFKA_SASL_USERNAME"):
        _settings(kafka_security_protocol="SASL_SSL")


def test_secrets_are_redacted() -> None:
    settings = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="desk",
        kafka_sasl_password="s3cret-pw",
        api_key="k3y-value",
    )
    assert settings.redact("login s3cret-pw with k3y-value") == "login *** with ***"


def test_plaintext_has_no_credentials() -> None:
    kafka = Kafka("127.0.0.1:9092")
    assert kafka.settings(AIOKafkaAdminClient) == {
        "bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}  # fmt: skip
    assert kafka.faust_settings()["broker_credentials"] is None
