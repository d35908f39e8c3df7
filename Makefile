# The two commands of the README: `make demo` runs the main job, `make test` passes the tests.
# Both set up everything themselves: the virtualenv, the package, the Kafka jars.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
KAFKA_JARS := infra/kafka/lib/.complete

.PHONY: setup tools demo test prove bench chaos lint format kafka-start kafka-stop schemas clean

setup: $(INSTALLED) $(KAFKA_JARS)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The benchmarks' peers (quixstreams), beside the project.
$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

$(KAFKA_JARS): infra/kafka/pom.xml
	mvn --quiet --batch-mode -f infra/kafka/pom.xml dependency:copy-dependencies
	touch $@

# What the tests drive besides Python and the JDK: a real Prometheus and promtool, headless
# Chromium, Node.js with npm (the JavaScript client example) and openssl (certificates for the
# SASL_SSL test), from the Debian packages when missing.
TOOLS := prometheus:prometheus promtool:prometheus chromium:chromium node:nodejs npm:npm openssl:openssl

tools:
	@missing=""; for tool in $(TOOLS); do \
		command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool##*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

demo: setup
	$(BIN)/fillstream demo

test: setup tools
	$(BIN)/pytest

# The long runs recorded in docs/topics.md ("Risk invariants"): the property search over at least
# 100 000 ticks and orders, and 1 000 000 fuzzed wire messages (about 15 minutes).
prove: setup
	FILLSTREAM_PROPERTY_STEPS=100000 $(BIN)/pytest -s -p no:cacheprovider tests/unit/core/test_risk_invariants.py tests/unit/core/test_levels.py
	FILLSTREAM_FUZZ_MESSAGES=1000000 FILLSTREAM_FUZZ_SEEDS=1000 $(BIN)/pytest -s -p no:cacheprovider tests/unit/wire/test_codec_fuzz.py

# The figures in docs/benchmarks.md, one script after another (about 40 minutes); each starts its
# own broker, prints a table and writes bench/results/<name>.json.
bench: setup $(BENCH_INSTALLED)
	$(BIN)/python -m bench.generators 10
	$(BIN)/python -m bench.peers 400000 20000
	$(BIN)/python -m bench.levels 1000 10000
	$(BIN)/python -m bench.scaling 20000
	$(BIN)/python -m bench.throughput 4000
	$(BIN)/python -m bench.profile 4000
	$(BIN)/python -m bench.sustained 60
	$(BIN)/python -m bench.latency 30
	$(BIN)/python -m bench.recovery 100000
	$(BIN)/python -m bench.failover 8 20
	$(BIN)/python -m bench.kill_switch 10
	$(BIN)/python -m bench.sink 200000

# The long chaos run recorded in docs/benchmarks.md ("Chaos"): 100 worker kills, a sink outage
# and a broker bounce under 110 orders/s (about 25 minutes).
chaos: setup
	$(BIN)/python -m bench.chaos 100 10 110

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

kafka-start: setup
	$(BIN)/fillstream kafka start

kafka-stop: setup
	$(BIN)/fillstream kafka stop

schemas: setup
	$(BIN)/python -m fillstream.wire.export docs/schemas

clean:
	rm -rf $(VENV) infra/kafka/lib var
