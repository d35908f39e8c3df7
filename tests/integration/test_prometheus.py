"""The alert rules and the dashboard against the real thing: promtool checks and unit-tests the
rules, then a real Prometheus scrapes a worker and the sink, loads the rules, finds every series
they and the dashboard use, fires the dead-letter alert, and the dashboard's ClickHouse queries
run on the sink."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

from fillstream.broker.local import free_port
from tests.pipeline import Pipeline
from tests.support import REPO_ROOT, SinkProcess

PROMETHEUS = REPO_ROOT / "infra" / "prometheus"
DASHBOARD = REPO_ROOT / "infra" / "grafana" / "fillstream.json"


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is needed (Debian package prometheus; `make test` installs it)"
    return found


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    checked = subprocess.run(
        [_tool("promtool"), "check", "rules", "alerts.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0 and "SUCCESS: 9 rules found" in checked.stdout, checked.stderr
    tested = subprocess.run(
        [_tool("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def used_metrics() -> set[str]:
    """Every series name the rules and the dashboard's Prometheus panels query."""
    texts = [(PROMETHEUS / "alerts.yml").read_text()]
    dashboard = json.loads(DASHBOARD.read_text())
    texts += [t["expr"] for p in dashboard["panels"] for t in p["targets"] if "expr" in t]
    return {name for text in texts for name in re.findall(r"\bfillstream_[a-z_]+", text)}


def clickhouse_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["rawSql"] for p in dashboard["panels"] for t in p["targets"] if "rawSql" in t]


class Prometheus:
    def __init__(self, directory: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        directory.mkdir(parents=True)
        scrape = [
            {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": [to]}]}
            for job, to in targets.items()
        ]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROMETHEUS / "alerts.yml")],
            "scrape_configs": scrape,
        }
        (directory / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.log = directory / "prometheus.log"
        self.process = subprocess.Popen(
            [_tool("prometheus"), f"--config.file={directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    def api(self, path: str, **query: str) -> dict | list:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())["data"]
        except OSError:
            return {}

    async def until(self, what: str, check, timeout: float = 90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            if found := check():
                return found
            await asyncio.sleep(0.5)
        raise AssertionError(f"{what} not seen in {timeout} s")

    def names(self, job: str) -> set[str]:
        return set(self.api("label/__name__/values", **{"match[]": f'{{job="{job}"}}'}) or [])


async def test_a_real_prometheus_scrapes_what_the_rules_and_dashboard_use(
    with_sink: tuple[Pipeline, SinkProcess], tmp_path: Path
) -> None:
    worker, sink = with_sink
    targets = {
        "fillstream-worker": f"127.0.0.1:{worker.env['FILLSTREAM_WEB_PORT']}",
        "fillstream-sink": f"127.0.0.1:{sink.port}",
    }
    prometheus = Prometheus(tmp_path / "prometheus", targets)
    try:
        await prometheus.until(
            "both targets up",
            lambda: (
                [t["health"] for t in (prometheus.api("targets") or {}).get("activeTargets", [])]
                == ["up", "up"]
            ),
        )
        rules = await prometheus.until("the rules loaded", lambda: prometheus.api("rules"))
        loaded = {r["name"]: r["health"] for g in rules["groups"] for r in g["rules"]}
        assert len(loaded) == 9 and set(loaded.values()) <= {"ok", "unknown"}, loaded

        orders_topic = worker.topic("orders")
        await prometheus.until(
            "dead letters counted at 0",
            lambda: prometheus.api(
                "query", query=f'fillstream_dead_letters_total{{topic="{orders_topic}"}}'
            ),
        )
        await worker.instrument("BTC-USD", taker_fee_bps="10")
        await worker.account("ann", "10000")
        await worker.tick("BTC-USD", "250.5")
        await worker.order("ann", "o1", "BTC-USD", "buy", "4")
        await worker.order_events("o1")
        await worker.send("orders", "ann", b"{not json")

        await prometheus.until(
            "every series the rules and dashboard use",
            lambda: (
                used_metrics()
                <= prometheus.names("fillstream-worker") | prometheus.names("fillstream-sink")
            ),
        )
        firing = await prometheus.until(
            "the dead-letter alert",
            lambda: [a for a in prometheus.api("alerts").get("alerts", [])
                     if a["labels"]["alertname"] == "FillstreamDeadLetters"
                     and a["state"] == "firing"],
        )  # fmt: skip
        assert [a["labels"]["topic"] for a in firing] == [orders_topic]

        worker_names = prometheus.names("fillstream-worker")
        sink_names = prometheus.names("fillstream-sink")
        assert not {n for n in worker_names if n.startswith("fillstream_sink_")}
        assert {n for n in sink_names if n.startswith("fillstream_")} == {
            "fillstream_build_info", "fillstream_sink_rows_total", "fillstream_sink_batches_total",
            "fillstream_sink_errors_total", "fillstream_sink_lag_records",
            "fillstream_sink_ready",
        }  # fmt: skip
        roles = prometheus.api("query", query="fillstream_build_info")["result"]
        assert sorted(r["metric"]["role"] for r in roles) == ["sink", "worker"]
    finally:
        prometheus.process.terminate()
        prometheus.process.wait(30)

    # The dashboard's ClickHouse panels, on the sink's tables (Grafana's time macro filled in).
    rows = {}
    deadline = time.monotonic() + 60
    while not rows.get(0) and time.monotonic() < deadline:
        for n, query in enumerate(clickhouse_queries()):
            rows[n] = sink.sql(query.replace("$__timeFilter(ts)", "ts > now() - INTERVAL 1 DAY"))
        await asyncio.sleep(0.5)
    equity, fills, events = rows[0], rows[1], rows[2]
    # 10 000 - fee 1.002 (10 bps of 4 * 250.5): the equity right after the fill.
    assert [(account, Decimal(value)) for _, account, value in equity] == [
        ("ann", Decimal("9998.998"))]  # fmt: skip
    assert [row[1:5] for row in fills] == [["ann", "o1", "BTC-USD", "buy"]]
    assert events == []
