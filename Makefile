# The two commands: `make run` and `make test`. Both set everything up first and are fast when it is.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test workers: one per core (pytest-xdist); every test has its own data folder and free ports.
# The tests write bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE): each of
# the ~40 `coach` processes they start would otherwise compile the coach's modules again (~0.1 CPU-s).
TEST_WORKERS ?= auto

.PHONY: run test lint setup clean e2e lock

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "coach needs Python 3.11 or newer; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/coach knowledge check
	$(BIN)/coach index
	$(BIN)/coach shell

test: $(STAMP)
	@sh tools/ensure-postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 1

# Real-client Teams test: coach serve + Microsoft 365 Agents Playground (npm, pinned) + Debian chromium.
PLAYGROUND_VERSION := 0.2.28
PLAYGROUND := .e2e/node_modules/@microsoft/m365agentsplayground/cli.js

$(PLAYGROUND):
	npm install --prefix .e2e --no-save --no-audit --no-fund @microsoft/m365agentsplayground@$(PLAYGROUND_VERSION)

e2e: $(STAMP) $(PLAYGROUND)
	@test -x /usr/bin/chromium || { echo "make e2e needs Debian's chromium: apt-get install -y chromium"; exit 1; }
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python e2e/playground.py

# The versions the tests run on: refresh after changing a dependency in pyproject.toml (then make test).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,/^# Refresh/p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache *.egg-info .e2e e2e/out
