# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint unit bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

## Set up and serve the embedded default (SQLite + generated keyring + demo data) on :8000.
run: $(VENV)/.installed
	$(BIN)/wis init
	$(BIN)/wis demo --if-empty
	$(BIN)/wis serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check wis_server tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

## Set up and run the whole suite (PostgreSQL too when WIS_TEST_POSTGRES_URL is set).
test: lint
	$(BIN)/pytest -ra

unit: $(VENV)/.installed-test
	$(BIN)/pytest -q tests/unit

bench: $(VENV)/.installed-test
	$(BIN)/python bench/write_read.py
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) var
