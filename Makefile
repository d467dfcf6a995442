# Turnout: `make demo` runs the whole thing once; `make test` runs every test.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= config/turnout.yaml

.PHONY: venv up down demo run test test-fast lint clean bench bench-quick browser

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

up: venv          ## Kafka (KRaft) and Redis on loopback, installed if missing
	scripts/services.sh up

down:
	scripts/services.sh down

demo: up          ## the stack, a few dozen requests through the openai SDK, a summary from ClickHouse
	$(VENV)/bin/turnout demo --config $(CONFIG)

run: up           ## the gateway stack in the foreground (with the provider simulator)
	$(VENV)/bin/turnout run --config $(CONFIG) --simulator

bench: up        ## Turnout beside direct calls and LiteLLM, one run; writes bench/results/latest.json
	$(VENV)/bin/turnout bench

bench-quick: up  ## the same, as a short smoke run (its figures are not results)
	$(VENV)/bin/turnout bench --quick

test: up lint browser  ## every test against the real services (and a real headless Chromium)
	$(PY) -m pytest -q -p no:cacheprovider

browser:          ## Debian's chromium, for the dashboards' browser test
	scripts/services.sh browser

test-fast: venv   ## unit and contract tests only (no services)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/contract

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy schemas ingress streams sinks turnout simulator bench

clean: down
	rm -rf .run
