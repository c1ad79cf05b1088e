# Two commands on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint unit bench clean peers

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml clients/fallback/pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e . -e clients/fallback
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

## Set up and serve the embedded default (SQLite + generated keyring + demo data) on :8000,
## with a simulated Rakel radio on a pty (var/pei0) that the server's gateway opens; the
## simulator runs the server as its child and stops with it.
run: $(VENV)/.installed
	$(BIN)/wis init
	$(BIN)/wis demo --if-empty
	mkdir -p var
	WIS_CHANNELS=$${WIS_CHANNELS:-memory} $(BIN)/python -m wis_server.channels.rakel.simulator \
		--link var/pei0 --issi 2010001 --terminal 2011234 --terminal 2011235 \
		--group 9001=2011234,2011235 --auto-ack -- $(BIN)/wis serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check wis_server tests bench clients/fallback
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/mypy --strict clients/fallback/wis_term

PEERS_STAMP := tests/peers/node_modules/.installed

## Third-party test peers from npm (the Web Push service peer), pinned by package-lock.json.
$(PEERS_STAMP): tests/peers/package.json tests/peers/package-lock.json
	cd tests/peers && npm ci --no-audit --no-fund --loglevel=error
	touch $@

peers: $(PEERS_STAMP)

## Set up and run the whole suite (PostgreSQL too when WIS_TEST_POSTGRES_URL is set), on two
## workers: most of the suite waits on servers, browsers and links it started, not on the CPU.
## One module stays on one worker (--dist loadscope), so a module's fixtures are built once.
TEST_WORKERS ?= 2
test: lint $(PEERS_STAMP)
	$(BIN)/pytest -ra --durations=25 -n $(TEST_WORKERS) --dist loadscope

unit: $(VENV)/.installed-test
	$(BIN)/pytest -q tests/unit

bench: $(VENV)/.installed-test
	$(BIN)/python bench/write_read.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/channels.py
	$(BIN)/python bench/wire.py

clean:
	rm -rf $(VENV) var
