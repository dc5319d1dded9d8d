# payrisk -- `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= .payrisk/demo-ledger
DEMO_CUSTOMERS ?= 400
DEMO_YEARS ?= 3

.PHONY: help venv demo test lint format clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "payrisk needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install payrisk with its dev tools (skipped when up to date)

demo: $(STAMP) ## Generate a synthetic ledger, import it into the embedded database, show its stats
	$(BIN)/payrisk generate --customers $(DEMO_CUSTOMERS) --years $(DEMO_YEARS) --seed 7 --end 2026-11-30 --out $(DEMO_DIR)
	$(BIN)/payrisk ledger import $(DEMO_DIR)
	$(BIN)/payrisk ledger stats

test: $(STAMP) ## Run every test (PostgreSQL tests need 127.0.0.1:5432)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Remove the embedded stores under .payrisk/ (not .venv)
	rm -rf .payrisk
