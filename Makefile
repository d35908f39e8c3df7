# The two commands of the README: `make demo` runs the main job, `make test` passes the tests.
# Both set up everything themselves: the virtualenv, the package, the Kafka jars.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KAFKA_JARS := infra/kafka/lib/.complete

.PHONY: setup demo test lint format kafka-start kafka-stop schemas clean

setup: $(INSTALLED) $(KAFKA_JARS)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(KAFKA_JARS): infra/kafka/pom.xml
	mvn --quiet --batch-mode -f infra/kafka/pom.xml dependency:copy-dependencies
	touch $@

demo: setup
	$(BIN)/fillstream demo

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

kafka-start: setup
	$(BIN)/fillstream kafka start

kafka-stop: setup
	$(BIN)/fillstream kafka stop

schemas: setup
	$(BIN)/python -m fillstream.schemas.export docs/schemas

clean:
	rm -rf $(VENV) infra/kafka/lib var
