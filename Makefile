# geodispatch: two commands on a fresh machine with only Python 3.11 and pip.
#   make demo   set up .venv, install, run the synthetic-regency walkthrough
#   make test   set up .venv, install, run ruff, mypy and pytest
#   make bench  set up .venv (with the peers used for comparison), run the benchmarks
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[api,dev,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/geodispatch demo

lint: $(STAMP)
	$(BIN)/ruff check geodispatch tests benchmarks
	$(BIN)/mypy geodispatch

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_traveltime.py
	$(BIN)/python benchmarks/bench_coverage.py
	$(BIN)/python benchmarks/bench_assign.py
	$(BIN)/python benchmarks/bench_siting.py
	$(BIN)/python benchmarks/bench_api.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
