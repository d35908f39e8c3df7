"""One settings object for every process role, read from FILLSTREAM_* variables and a TOML file."""

from __future__ import annotations

import os
import socket
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "FILLSTREAM_CONFIG"


class Settings(BaseSettings):
    """Environment variables win over the config file, which wins over the defaults."""

    model_config = SettingsConfigDict(env_prefix="FILLSTREAM_", extra="ignore", frozen=True)

    data_dir: Path = Field(Path("var"), description="Root of all local state.")
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers; unset means the bundled local broker."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client of the project reaches the cluster."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="With SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(None, description="With SASL_PLAINTEXT or SASL_SSL.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="With SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_ssl_ca_file: Path | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates; unset: the "
        "system's trusted CAs."
    )  # fmt: skip
    kafka_ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate, for brokers that want mutual TLS."
    )
    kafka_ssl_key_file: Path | None = Field(None, description="PEM key of the client certificate.")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="Password of an encrypted client key."
    )
    kafka_client_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Any other setting of the project's aiokafka clients, by its aiokafka name "
        '(e.g. {"request_timeout_ms": 60000}); each client takes the ones it knows.',
    )
    kafka_port: int = Field(9092, description="Port of the bundled local broker (0: any free).")
    kafka_heap: str = Field("512m", description="JVM heap of the bundled local broker.")
    app_id: str = Field("fillstream", description="Faust app id: consumer group, changelogs.")
    topic_prefix: str = Field("", description="Prepended to every topic name.")
    topic_partitions: int = Field(4, description="Partitions of the topics fillstream creates.")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once", description="Faust processing guarantee (the pipeline: at_least_once)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replicas of every topic and changelog fillstream creates."
    )
    topic_min_insync_replicas: int = Field(
        1,
        ge=1,
        description="min.insync.replicas of the topics fillstream creates: with acks=all, a "
        "write needs this many replicas.",
    )
    table_standby_replicas: int = Field(1, description="Faust standby copies of each table.")
    kafka_session_timeout_seconds: float = Field(
        6.0,
        gt=0,
        description="A worker that stops heartbeating for this long loses its partitions to the "
        "others (the broker's group.min.session.timeout.ms must allow it).",
    )
    kafka_heartbeat_seconds: float = Field(
        2.0, gt=0, description="How often a worker tells the group it is alive."
    )
    web_port: int = Field(6066, description="Port of the worker's HTTP server.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines as text, or one JSON object per line (with the account, order, "
        "topic, partition and offset where known).",
    )
    web_bind: str = Field(
        "127.0.0.1",
        description="Address the worker's HTTP server listens on (0.0.0.0: every interface).",
    )
    web_advertised_url: str | None = Field(
        None,
        description="The URL other workers reach this one at, to forward a request to the "
        "worker that owns its account; unset: http://<web_bind>:<web_port> (the host name when "
        "bound to every interface).",
    )
    clickhouse_dsn: SecretStr | None = Field(
        None,
        description="chdb:///path or http(s)://host:8123 (may hold a user and password); "
        "unset means embedded chDB.",
    )
    clickhouse_user: str = Field("default", description="For an http(s) DSN.")
    clickhouse_password: SecretStr = Field(SecretStr(""), description="For an http(s) DSN.")
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description="SHA-256 hex digest of each API key -> 'admin' or 'account:<id>'.",
    )
    sink_url: str = Field(
        "http://127.0.0.1:6067", description="Where workers reach the sink for trade history."
    )
    sink_api_key: SecretStr | None = Field(
        None,
        description="An admin API key that workers (trade history) and `fillstream sql` present "
        "to the sink.",
    )
    api_key: SecretStr | None = Field(
        None, description="The API key `fillstream account show` presents to the worker."
    )
    sink_port: int = Field(6067, description="Port of the sink's HTTP status and SQL endpoint.")
    sink_bind: str = Field(
        "127.0.0.1",
        description="Address the sink's HTTP server listens on (0.0.0.0: every interface).",
    )
    sink_batch_rows: int = Field(10_000, description="Largest batch the sink inserts.")
    sink_batch_seconds: float = Field(1.0, description="Longest a record waits for its batch.")
    default_max_leverage: Decimal = Field(Decimal(1), description="For accounts that omit it.")
    default_max_order_pct: Decimal = Field(Decimal(100), description="For accounts that omit it.")
    default_max_drawdown_pct: Decimal = Field(Decimal(10), description="For accounts that omit it.")
    duplicate_window_hours: int = Field(24, description="How long an order_id stays taken.")
    session_timezone: str = Field(
        "UTC", description="IANA time zone of the trading day that DAY orders last."
    )
    session_close: time = Field(time(0), description="When the trading day ends, local time.")

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"FILLSTREAM_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "FILLSTREAM_KAFKA_SASL_USERNAME and FILLSTREAM_KAFKA_SASL_PASSWORD"
            )
        return self

    @field_validator("session_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    max_clock_skew_seconds: float = Field(
        300.0,
        gt=0,
        description="An input's own ts more than this ahead of its Kafka record's time is replaced "
        "by the record's time.",
    )
    topic_instruments: str = "instruments"
    topic_accounts: str = "accounts"
    topic_ticks: str = "ticks"
    topic_orders: str = "orders"
    topic_resolutions: str = "resolutions"
    topic_programs: str = "programs"
    topic_controls: str = "controls"
    topic_firm_controls: str = "firm-controls"
    topic_fills: str = "fills"
    topic_order_events: str = "order-events"
    topic_risk_events: str = "risk-events"
    topic_dead_letters: str = "dead-letters"
    topic_market_data: str = Field(
        "market-data", description="Internal: ticks and instruments fanned out to every partition."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(CONFIG_FILE_VARIABLE, "fillstream.toml")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file),
        )

    @property
    def root(self) -> Path:
        return self.data_dir.resolve()

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def faust_dir(self) -> Path:
        return self.root / "faust"

    @property
    def advertised_url(self) -> str:
        if self.web_advertised_url:
            return self.web_advertised_url.rstrip("/")
        host = socket.gethostname() if self.web_bind in ("0.0.0.0", "::") else self.web_bind
        return f"http://{host}:{self.web_port}"

    @property
    def clickhouse_url(self) -> str:
        if self.clickhouse_dsn is not None:
            return self.clickhouse_dsn.get_secret_value()
        return f"chdb://{self.root / 'clickhouse'}"

    @property
    def clickhouse_url_for_logs(self) -> str:
        """The DSN without its user and password."""
        parts = urlsplit(self.clickhouse_url)
        if parts.username is None and parts.password is None:
            return self.clickhouse_url
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))

    def redact(self, text: str) -> str:
        """Text with every configured secret, and the DSN's user info, blanked out."""
        parts = urlsplit(self.clickhouse_url)
        secrets = [self.clickhouse_password.get_secret_value(), parts.password]
        for hidden in (
            self.sink_api_key,
            self.api_key,
            self.kafka_sasl_password,
            self.kafka_ssl_key_password,
        ):
            if hidden is not None:
                secrets.append(hidden.get_secret_value())
        text = text.replace(self.clickhouse_url, self.clickhouse_url_for_logs)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def topic(self, name: str) -> str:
        """A topic's full name: the prefix and the configured name."""
        return f"{self.topic_prefix}{getattr(self, f'topic_{name}', name)}"
