# The two commands a fresh machine needs: `make run` (server on the embedded default) and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SFUMATO_HOST ?= 127.0.0.1
SFUMATO_PORT ?= 8000

.PHONY: run test lint install clean bench fuzz

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first and exactly pinned, so pip takes the local CPU wheel and never a CUDA build.
$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# The official TypeScript SDK, for the tests that drive the server with node (versions locked).
TS_STAMP := tests/ts/node_modules/.installed
$(TS_STAMP): tests/ts/package.json tests/ts/package-lock.json
	cd tests/ts && npm ci --no-audit --no-fund --loglevel=error
	touch $(TS_STAMP)

# Browser tests drive Debian's Chromium (no browser download at run time): apt-get installs it when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(eval SUDO := $(if $(filter 0,$(shell id -u)),,sudo))
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
	  ($(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

# The read-path benchmark drives wrk from another process (apt-get installs it when missing, as Chromium).
WRK := /usr/bin/wrk
$(WRK):
	$(eval SUDO := $(if $(filter 0,$(shell id -u)),,sudo))
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk || \
	  ($(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)

install: $(STAMP) $(TS_STAMP) $(CHROMIUM)

run: $(STAMP)
	$(BIN)/sfumato serve --host $(SFUMATO_HOST) --port $(SFUMATO_PORT)

# ruff, the import contracts between the floors (pyproject.toml [tool.importlinter]), mypy on the core floors.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports
	$(BIN)/mypy

# Two pytest processes, each taking whole files (their module fixtures, e.g. a server, stay in one process).
TEST_PROCESSES ?= 2
test: $(STAMP) $(TS_STAMP) $(CHROMIUM) lint
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile --durations=25  # slowest 25: the next trim

# Every benchmark with quick settings, then one table of ratios (python bench/run_all.py --full: their defaults).
bench: $(STAMP) $(WRK)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Schemathesis with every check over the whole spec for 15 minutes, a new seed each run (printed with the summary;
# SFUMATO_FUZZ_SEED=N replays one). make test runs the same checks for 60 s with a fixed seed.
fuzz: $(STAMP)
	SFUMATO_FUZZ_SECONDS=$${SFUMATO_FUZZ_SECONDS:-900} SFUMATO_FUZZ_SEED=$${SFUMATO_FUZZ_SEED:-random} \
	  $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/api/test_fuzz.py
