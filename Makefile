# reidlib — every command a reader needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
KERNEL := reidlib

# Parameters of every reproduce-* target.
PROFILE ?= cpu
DATASET ?= synthreid
DATA_ROOT ?= data
DEVICE ?= auto
SEEDS ?= 0

.DEFAULT_GOAL := help
.PHONY: help install test unit nbval lint bench results clean

help: ## List every target with one line each
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-26s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (reidlib)" >/dev/null
	touch $(STAMP)

install: $(STAMP) ## Make .venv (reruns only when pyproject.toml changes) and register the 'reidlib' Jupyter kernel

test: install ## Unit tests, then the notebooks at the smoke profile under nbval (what CI runs)
	$(PY) -m pytest tests -q
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

unit: install ## Unit tests only
	$(PY) -m pytest tests -q

nbval: install ## Notebooks only, at the smoke profile, checked against their committed outputs
	$(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider notebooks

lint: install ## ruff
	$(PY) -m ruff check reidlib tests

bench: install ## Speed and memory benchmarks; writes results/bench/*.csv and prints them
	$(PY) -m reidlib.bench

clean: ## Remove the venv, caches and smoke outputs (keeps results/ tables and data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache results/tmp
