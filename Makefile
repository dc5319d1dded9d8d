# payrisk -- `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DATA_DIR ?= .payrisk/demo
DEMO_LEDGER := $(DEMO_DATA_DIR)/ledger
DEMO_CUSTOMERS ?= 400
DEMO_YEARS ?= 3
# The demo keeps its own stores (database, MLflow) so it never touches yours.
# Illustrative rates to the reporting currency (USD) so the worklist can rank across currencies.
DEMO_ENV := PAYRISK_DATA_DIR=$(DEMO_DATA_DIR) PAYRISK_DATABASE_URL= PAYRISK_MLFLOW_TRACKING_URI= \
	PAYRISK_FX_RATES='{"EUR": 1.08, "GBP": 1.27, "ILS": 0.27}'

.PHONY: help venv demo test lint format clean fuzz soak bench

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "payrisk needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install payrisk with its dev tools (skipped when up to date)

demo: $(STAMP) ## From scratch: generate, import, train, promote, then serve the worklist at http://127.0.0.1:8000
	rm -rf $(DEMO_DATA_DIR)
	$(DEMO_ENV) $(BIN)/payrisk generate --customers $(DEMO_CUSTOMERS) --years $(DEMO_YEARS) --seed 7 --end 2026-11-30 --out $(DEMO_LEDGER)
	$(DEMO_ENV) $(BIN)/payrisk ledger import $(DEMO_LEDGER)
	$(DEMO_ENV) $(BIN)/payrisk ledger stats
	$(DEMO_ENV) $(BIN)/payrisk train --oracle-dir $(DEMO_LEDGER)/truth
	$(DEMO_ENV) $(BIN)/payrisk promote
	$(DEMO_ENV) scripts/demo-serve $(BIN)

test: $(STAMP) ## Run every test (PostgreSQL tests need 127.0.0.1:5432)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

FUZZ_EXAMPLES ?= 200
SOAK_SECONDS ?= 120
fuzz: $(STAMP) ## Longer schemathesis run over every route (FUZZ_EXAMPLES valid inputs per route)
	PAYRISK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/serving/test_fuzz.py -q --timeout 3600

soak: $(STAMP) ## Mixed load at concurrency 32 on PostgreSQL for SOAK_SECONDS (loopback only)
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS)

bench: $(STAMP) ## Run every benchmark under bench/ (modest sizes) and write BENCHMARKS.md
	$(BIN)/python bench/run_all.py --out BENCHMARKS.md

clean: ## Remove the embedded stores under .payrisk/ (not .venv)
	rm -rf .payrisk
