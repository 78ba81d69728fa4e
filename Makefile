# Qunzu — `make run` starts a local Synapse with the module and the bot; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m devtools.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest-xdist workers, each test file on one of them: module-scoped servers start once; files
# that share a session-scoped server run on one worker too (FILE_GROUPS in tests/conftest.py).
# The end-to-end tests keep a worker waiting on its Synapse processes about a sixth of the time, so
# one worker more than the cores keeps them busy (on 2 cores: 140 s against 155 s with two workers,
# 165 s with four); tests that need no Synapse are plain CPU and get one worker per core.
# PYTEST_WORKERS=0 runs serially.
CORES := $(shell nproc 2>/dev/null || echo 1)
PYTEST_WORKERS ?= $(shell echo $$(( $(CORES) + 1 )))
FAST_WORKERS ?= $(CORES)

# The slowest tests are listed at the end: where the suite's time goes.
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test: lint typecheck pytest

# Everything that needs no Synapse process (policies, the module in-process, the bot, the CLI, layers): about 35 s on two cores.
test-fast: lint
	$(BIN)/pytest -n $(FAST_WORKERS) -m "not e2e"

# Not part of `make test`: Qunzu vs vanilla Synapse side by side, writes bench/RESULTS.md and RESULTS.json (about an hour on 2 cores).
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .dev .mypy_cache .ruff_cache .pytest_cache
