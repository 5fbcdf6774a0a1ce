# Every target creates and uses a local virtualenv by itself: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint bench soak self-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/freezelab

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gui services tests resources/packaging
	$(BIN)/ruff format --check gui services tests resources/packaging
	$(BIN)/lint-imports

check: lint test

self-test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/freezelab --self-test

# The performance table of the README: every scenario, medians of 3, with targets (~5 minutes).
bench: $(STAMP)
	$(BIN)/freezelab-bench --scenario all --repeat 3 --json bench.json

# 300 runs in one app, alternating workloads and modes: growth of RSS, threads, fds, tasks, children.
soak: $(STAMP)
	$(BIN)/freezelab-bench --soak 300

include mk/package.mk

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
