# Reclaim Ledger: `make demo` runs the sample scenario, `make test` runs every test.
# Both install what they need first; a second run skips what is already installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := node_modules/.bin/forge

.PHONY: setup chromium wrk demo test test-contracts test-python artifacts lint clean bench

setup: $(VENV)/.installed node_modules/.installed chromium

# The browser tests drive Debian's Chromium through Playwright; Playwright's own
# browser download is never used. Installing it needs root, as on CI.
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Starts the local chain, imports the sample inventory, adds the sample organisations
# with their keystores, runs a custody scenario (contractor -> reclamation yard -> two
# buyers sharing one lot of doors), lists part of the yard's cement tiles for sale, and
# prints provenance and totals from the SQLite mirror. A builder then installs doors and
# tiles into a renovation, an inspector clears them, the owner claims the reuse and an
# auditor approves it after recomputing the claim from the chain; the report goes to
# var/. Steps recorded by an earlier run are skipped; the chain's state stays in var/.
RECLAIM := $(BIN)/reclaim
DOORS := 5
TILES := 28
RENOVATION := DST-CHARLEROI-01
CLAIM := 1

demo: setup
	$(RECLAIM) chain start
	$(RECLAIM) import data/wallonia/inventory.csv --buildings data/wallonia/buildings.csv
	$(RECLAIM) org seed data/wallonia/actors.csv
	$(RECLAIM) transfer $(DOORS) --from ACT-001 --to ACT-004 --quantity 118 --reason sale --reference demo/LGE-005/invoice-1 --once
	$(RECLAIM) transfer $(DOORS) --from ACT-004 --to ACT-008 --quantity 70 --reason sale --reference demo/LGE-005/invoice-2 --once
	$(RECLAIM) transfer $(DOORS) --from ACT-004 --to ACT-009 --quantity 48 --reason sale --reference demo/LGE-005/invoice-3 --once
	$(RECLAIM) transfer $(TILES) --from ACT-001 --to ACT-003 --quantity 380 --reason consignment --reference demo/NAM-002/consignment-1 --once
	$(RECLAIM) transfer $(TILES) --from ACT-003 --to ACT-009 --quantity 120.5 --reason sale --reference demo/NAM-002/invoice-1 --once
	$(RECLAIM) listing add $(TILES) --org ACT-003 --quantity 200 --price 35.00 --location "Dépôt Andenne" --latitude 50.4897 --longitude 5.0942 --available-from 2026-08-01 --conditions "Weekdays 8-16, pallets loaded by forklift" --once
	$(RECLAIM) listing list
	$(RECLAIM) history $(DOORS)
	$(RECLAIM) history $(TILES)
	$(RECLAIM) summary
	$(RECLAIM) grant inspector ACT-010
	$(RECLAIM) grant auditor ACT-011
	$(RECLAIM) inspect $(DOORS) --from ACT-010 --grade A --fit-for interior-door --evidence data/demo/inspection-LGE-005.txt --asbestos absent --lead-paint absent --pcb absent --bituminous-adhesive absent --once
	$(RECLAIM) inspect $(TILES) --from ACT-010 --grade B --fit-for floor-tile --evidence data/demo/inspection-NAM-002.txt --asbestos absent --lead-paint absent --pcb absent --bituminous-adhesive absent --once
	$(RECLAIM) install $(DOORS) --from ACT-009 --building $(RENOVATION) --quantity 48 --reference demo/$(RENOVATION)/delivery-1 --once
	$(RECLAIM) install $(TILES) --from ACT-009 --building $(RENOVATION) --quantity 120.5 --reference demo/$(RENOVATION)/delivery-2 --once
	$(RECLAIM) claim --from ACT-008 --building $(RENOVATION) --lots $(DOORS),$(TILES) --total-mass-kg 20000 --document data/demo/claim-$(RENOVATION).txt --once
	$(RECLAIM) audit $(CLAIM) --approve --from ACT-011 --reason "Installed lots, origins, inspections and figures match the chain." --once --json var/audit-claim-$(CLAIM).json --html var/audit-claim-$(CLAIM).html --pdf var/audit-claim-$(CLAIM).pdf
	$(RECLAIM) chain stop

test: setup test-contracts test-python

test-contracts: node_modules/.installed
	$(FORGE) test --use ./scripts/solc-js --offline

test-python: $(VENV)/.installed
	$(BIN)/pytest

# Runs every benchmark and prints one table, in about ten minutes on two cores.
# BENCH_FLAGS=--full runs the full-scale sizes; docs/benchmarks.md records a run.
bench: setup wrk
	$(BIN)/python -m scripts.bench $(BENCH_FLAGS)

# The API benchmark's load generator. Without it the bench falls back to a Python
# client, which shares the two cores with the server and reports lower rates.
wrk:
	@command -v wrk >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk)

# Recompiles the contracts and rewrites the committed artifacts.
artifacts: setup
	$(BIN)/reclaim compile

lint: setup
	$(BIN)/ruff check ledger api tests scripts
	$(BIN)/ruff format --check ledger api tests scripts

clean:
	rm -rf build .pytest_cache
