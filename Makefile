# Reclaim Ledger: `make demo` runs the sample scenario, `make test` runs every test.
# Both install what they need first; a second run skips what is already installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := node_modules/.bin/forge

.PHONY: setup demo test test-contracts test-python artifacts lint clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Starts the local chain, imports the sample inventory (skipping lots registered by an
# earlier run), mirrors it into SQLite and prints a history and the totals. The
# chain's state stays in var/ for the next run.
demo: setup
	$(BIN)/reclaim chain start
	$(BIN)/reclaim import data/wallonia/inventory.csv --buildings data/wallonia/buildings.csv
	$(BIN)/reclaim history 1
	$(BIN)/reclaim summary
	$(BIN)/reclaim chain stop

test: setup test-contracts test-python

test-contracts: node_modules/.installed
	$(FORGE) test --use ./scripts/solc-js --offline

test-python: $(VENV)/.installed
	$(BIN)/pytest

# Recompiles the contracts and rewrites the committed artifacts.
artifacts: setup
	$(BIN)/reclaim compile

lint: setup
	$(BIN)/ruff check ledger api tests scripts
	$(BIN)/ruff format --check ledger api tests scripts

clean:
	rm -rf build .pytest_cache
