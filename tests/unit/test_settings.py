"""Settings: environment over config file over defaults, and every one documented."""

from decimal import Decimal
from pathlib import Path

import pytest

from fillstream.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"`FILLSTREAM_{name.upper()}`" not in text]
    assert missing == []


def test_environment_wins_over_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "fillstream.toml"
    config.write_text(
        'app_id = "from-file"\ntopic_partitions = 8\ndefault_max_drawdown_pct = "7.5"\n'
    )
    monkeypatch.setenv("FILLSTREAM_CONFIG", str(config))
    monkeypatch.setenv("FILLSTREAM_APP_ID", "from-env")
    settings = Settings()
    assert (settings.app_id, settings.topic_partitions) == ("from-env", 8)
    assert settings.default_max_drawdown_pct == Decimal("7.5")
    assert settings.topic("order_events") == "order-events"


def test_default_clickhouse_is_embedded_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILLSTREAM_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("FILLSTREAM_DATA_DIR", str(tmp_path))
    assert Settings().clickhouse_url == f"chdb://{tmp_path}/clickhouse"
