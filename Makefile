# Reclaim Ledger: `make demo` runs the sample scenario, `make test` runs every test.
# Both install what they need first; a second run skips what is already installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := node_modules/.bin/forge

.PHONY: setup demo test test-contracts test-python artifacts lint clean bench

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

# Starts the local chain, imports the sample inventory, runs a custody scenario
# (contractor -> reclamation yard -> two buyers sharing one lot of doors), and prints
# provenance and totals from the SQLite mirror. Lots and transfers recorded by an
# earlier run are skipped; the chain's state stays in var/ for the next run.
RECLAIM := $(BIN)/reclaim
DOORS := 5
PARQUET := 28

demo: setup
	$(RECLAIM) chain start
	$(RECLAIM) import data/wallonia/inventory.csv --buildings data/wallonia/buildings.csv
	$(RECLAIM) transfer $(DOORS) --from ACT-001 --to ACT-004 --quantity 118 --reason sale --reference demo/LGE-005/invoice-1 --once
	$(RECLAIM) transfer $(DOORS) --from ACT-004 --to ACT-008 --quantity 70 --reason sale --reference demo/LGE-005/invoice-2 --once
	$(RECLAIM) transfer $(DOORS) --from ACT-004 --to ACT-009 --quantity 48 --reason sale --reference demo/LGE-005/invoice-3 --once
	$(RECLAIM) transfer $(PARQUET) --from ACT-001 --to ACT-003 --quantity 380 --reason consignment --reference demo/NAM-002/consignment-1 --once
	$(RECLAIM) transfer $(PARQUET) --from ACT-003 --to ACT-009 --quantity 120.5 --reason sale --reference demo/NAM-002/invoice-1 --once
	$(RECLAIM) history $(DOORS)
	$(RECLAIM) history $(PARQUET)
	$(RECLAIM) summary
	$(RECLAIM) chain stop

test: setup test-contracts test-python

test-contracts: node_modules/.installed
	$(FORGE) test --use ./scripts/solc-js --offline

test-python: $(VENV)/.installed
	$(BIN)/pytest

# Runs every benchmark and prints one table, in about ten minutes on two cores.
# BENCH_FLAGS=--full runs the full-scale sizes; docs/benchmarks.md records a run.
bench: setup
	$(BIN)/python -m scripts.bench $(BENCH_FLAGS)

# Recompiles the contracts and rewrites the committed artifacts.
artifacts: setup
	$(BIN)/reclaim compile

lint: setup
	$(BIN)/ruff check ledger api tests scripts
	$(BIN)/ruff format --check ledger api tests scripts

clean:
	rm -rf build .pytest_cache
