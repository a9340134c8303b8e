# reidlib — every command a reader needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
KERNEL := reidlib
# The tests and the notebooks run in parallel, one pytest-xdist worker per core (XDIST= runs them in one
# process); each worker's torch (and each notebook's kernel) uses one thread, so 2 workers on 2 cores do
# not oversubscribe them. nbval keeps a notebook's cells in order in one kernel (--dist loadscope). Two
# pytest runs: one run for both (loadscope, so a whole test module goes to one worker) was no faster
# (quiet 2-core EPYC: 442 s, against 405 and 461 s for the two runs together).
XDIST ?= -n auto
NBVAL := OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-sanitize-with \
	tests/nbval_sanitize.cfg -p no:cacheprovider $(XDIST) $(if $(XDIST),--dist loadscope) notebooks
# pip installs without byte-compiling (torch's and sympy's thousands of files: ~2 of its ~3.5 minutes
# here); a module is compiled when first imported, and its .pyc written then, also where the environment
# sets PYTHONDONTWRITEBYTECODE (else every process would compile torch again, ~3x its import time).
unexport PYTHONDONTWRITEBYTECODE

# Parameters of every reproduce-* target.
PROFILE ?= cpu
DATASET ?= synthreid
DATA_ROOT ?= data
DEVICE ?= auto
CPU_SEEDS := 0,1,2
SEEDS ?= $(if $(filter cpu,$(PROFILE)),$(CPU_SEEDS),0)
OUTPUT_DIR ?=

.DEFAULT_GOAL := help
.PHONY: help install test unit nbval nbval-kernels lint bench results clean

help: ## List every target with one line each
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-26s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-compile -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (reidlib)" >/dev/null
	touch $(STAMP)

install: $(STAMP) ## Make .venv (reruns only when pyproject.toml changes) and register the 'reidlib' Jupyter kernel

test: install ## ruff, unit tests, then the notebooks at the smoke profile under nbval (what CI runs)
	$(PY) -m ruff check reidlib tests
	$(PY) -m pytest tests -q $(XDIST)
	$(NBVAL)

unit: install ## Unit tests only
	$(PY) -m pytest tests -q $(XDIST)

nbval: install ## Notebooks only, at the smoke profile, checked against their committed outputs
	$(NBVAL)

# The checked notebook outputs must not depend on the CPU (issue 10): the smoke profile runs in float64.
# This re-runs nbval as an AVX2-only and as a pre-AVX machine would (ATen kernels, oneDNN and MKL each
# restricted), each time from an empty smoke cache (results/tmp/), so every smoke run is retrained.
KERNEL_SETS := avx2:AVX2:AVX2 default:SSE41:SSE4_2
nbval-kernels: install ## nbval under the AVX2 and the SSE4.1 kernel sets, each from an empty smoke cache
	@set -e; for k in $(KERNEL_SETS); do IFS=: read aten onednn mkl <<< "$$k"; rm -rf results/tmp; \
		echo "== ATEN_CPU_CAPABILITY=$$aten ONEDNN_MAX_CPU_ISA=$$onednn MKL_ENABLE_INSTRUCTIONS=$$mkl"; \
		ATEN_CPU_CAPABILITY=$$aten ONEDNN_MAX_CPU_ISA=$$onednn MKL_ENABLE_INSTRUCTIONS=$$mkl $(NBVAL); done

lint: install ## ruff
	$(PY) -m ruff check reidlib tests

bench: install ## Speed and memory benchmarks; writes results/bench/*.csv and prints them
	$(PY) -m reidlib.bench

.PHONY: weights
weights: install ## Download torchvision's ImageNet ResNet-50 weights (V1) into the torch hub cache (paper profile)
	$(PY) -c "from reidlib.models.backbone import download_imagenet_weights as d; print(d(50))"

clean: ## Remove the venv, caches and smoke outputs (keeps results/ tables and data/)
	rm -rf $(VENV) .pytest_cache .ruff_cache results/tmp

# ----------------------------------------------------------------------------------------------------
# Reproduction: one papermill notebook per paper table / figure, declared in reidlib/tables.py
# (`python -m reidlib tables` lists them; tables.mk holds their targets). Each target takes
# PROFILE= (cpu), DATASET= (synthreid; tables over several datasets default to "all" = the paper's
# datasets at PROFILE=paper, their SynthReID stand-ins otherwise), DATA_ROOT=, DEVICE=, SEEDS= (0,1,2 at
# the cpu profile — ours = mean ± sd, Δ with a paired 95 % CI —, 0 otherwise),
# saves the executed notebook in results/notebooks/ and prints the table it wrote
# (results/<paper>/<table>.md; results/tmp/ at PROFILE=smoke, <table>-paper.md at PROFILE=paper).
# OUTPUT_DIR=… puts tables, figures and the executed notebook there instead (e.g. a run with other
# seeds that should sit beside, not replace, the committed tables).
# ----------------------------------------------------------------------------------------------------
.PHONY: notebooks reproduce tables

ALL_DATASETS := $(if $(filter command line environment environment override override,$(origin DATASET)),$(DATASET),all)
# $REIDLIB_DATA wins over the Makefile's default DATA_ROOT (but not over DATA_ROOT= given explicitly).
DATA_ARG := $(if $(and $(REIDLIB_DATA),$(filter file,$(origin DATA_ROOT))),$(REIDLIB_DATA),$(DATA_ROOT))
FIG_DIR := $(if $(OUTPUT_DIR),$(OUTPUT_DIR)/figures,$(if $(filter smoke,$(PROFILE)),results/tmp/figures,results/figures))
NB_DIR := $(if $(OUTPUT_DIR),$(OUTPUT_DIR)/notebooks,results/notebooks)
SHOW := $(PY) -m reidlib show --profile $(PROFILE) $(if $(OUTPUT_DIR),--output-dir $(OUTPUT_DIR))

# $(call papermill,notebook,output name,dataset[,extra papermill args])
define papermill
	@mkdir -p $(NB_DIR)
	$(PY) -m papermill -k $(KERNEL) --cwd . notebooks/$(1).ipynb $(NB_DIR)/$(2)-$(PROFILE).ipynb \
		-p profile $(PROFILE) -p dataset "$(3)" -p data_root "$(DATA_ARG)" -p device $(DEVICE) \
		-y "seeds: [$(SEEDS)]" $(if $(OUTPUT_DIR),-p output_dir "$(OUTPUT_DIR)") $(4)
endef

# One target per table of reidlib/tables.py (and REPRODUCE_ALL), generated; a test checks it is current.
include tables.mk

tables: install ## Regenerate tables.mk from reidlib/tables.py (after adding or changing a table)
	$(PY) -m reidlib tables --makefile > tables.mk.tmp && mv tables.mk.tmp tables.mk

reproduce: $(REPRODUCE_ALL) ## Every table and figure of both papers, then README's results (cpu profile: goal ≤ 8 h on 2 cores)
	$(MAKE) --no-print-directory results

results: install ## Rebuild README's results section from results/**/*.md
	$(PY) -m reidlib readme

notebooks: install ## Re-execute every notebook at the smoke profile in place, cleaned (refreshes what nbval checks)
	$(PY) -m reidlib.nbtools notebooks/*.ipynb

# Issue 11: the cpu-profile calibration record (results/calibration.md + .csv). CANDIDATES= picks some
# (names in reidlib/calibration.py), SEEDS= as above; finished runs are reused.
.PHONY: calibrate
calibrate: install ## Train amfl.table1.a under each cpu-profile candidate recipe; writes results/calibration.md/.csv
	$(PY) -m reidlib.calibration $(CANDIDATES) --seeds $(SEEDS)
