"""How every Kafka client of the project reaches the cluster: the address, TLS, SASL and any other
client setting, from one place, so a secured cluster needs no change anywhere else."""

from __future__ import annotations

import inspect
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from fillstream.broker.local import bootstrap_servers
from fillstream.settings import Settings

_CLIENTS: tuple[Callable[..., Any], ...] = (AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient)


def _accepted(client: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(client).parameters)


@dataclass(frozen=True)
class Kafka:
    """The cluster and the credentials; ``Kafka("host:9092")`` is an open, local one."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.options).difference(*map(_accepted, _CLIENTS))
        if unknown:
            raise ValueError(
                f"FILLSTREAM_KAFKA_CLIENT_OPTIONS: no aiokafka client takes {sorted(unknown)}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Kafka:
        return cls(
            bootstrap=bootstrap_servers(settings),
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=_secret(settings.kafka_sasl_password),
            ca_file=settings.kafka_ssl_ca_file,
            cert_file=settings.kafka_ssl_cert_file,
            key_file=settings.kafka_ssl_key_file,
            key_password=_secret(settings.kafka_ssl_key_password),
            options=dict(settings.kafka_client_options),
        )

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifies the brokers' certificates and host names, as any TLS client should."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password)
        return context

    def settings(self, client: Callable[..., Any], **given: Any) -> dict[str, Any]:
        """Keyword arguments of an aiokafka client: the pass-through options it takes, then the
        security, then what the caller gives."""
        accepted = _accepted(client)
        chosen = {key: value for key, value in self.options.items() if key in accepted}
        chosen.update(bootstrap_servers=self.bootstrap, security_protocol=self.security_protocol)
        if self.tls:
            chosen["ssl_context"] = self.ssl_context
        if self.sasl:
            chosen.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        chosen.update(given)
        return chosen

    def producer(self, **given: Any) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self.settings(AIOKafkaProducer, **given))

    def consumer(self, *topics: str, **given: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.settings(AIOKafkaConsumer, **given))

    def admin(self, **given: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.settings(AIOKafkaAdminClient, **given))

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions; a topic that does not exist is an error that names it."""
        admin = self.admin()
        await admin.start()
        try:
            (description,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        if description["error_code"] != 0 or not description["partitions"]:
            raise RuntimeError(f"no topic {topic}: is FILLSTREAM_TOPIC_PREFIX right?")
        return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])

    def faust_settings(self) -> dict[str, Any]:
        """The Faust app's broker and credentials (its consumer, producer and topic creation)."""
        credentials: faust.types.auth.CredentialsT | None = None
        if self.sasl:
            credentials = faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context,
                mechanism=self.sasl_mechanism,
            )
        elif self.tls:
            credentials = faust.SSLCredentials(self.ssl_context)
        return {"broker": f"kafka://{self.bootstrap}", "broker_credentials": credentials}


def _secret(value: Any) -> str | None:
    return None if value is None else value.get_secret_value()
