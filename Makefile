# funnel — set up, run, test, browse and benchmark the lakehouse.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FUNNEL_ROOT ?= $(CURDIR)/lake
HOST ?= 127.0.0.1
PORT ?= 3000
REVIEW_PORT ?= 8765
FAST_TESTS := tests/lakehouse tests/spark_jobs tests/checks/test_quality.py tests/gpu_jobs \
	tests/serving tests/dagster_project/test_layers.py tests/benchmarks
export FUNNEL_ROOT

.PHONY: install java browser postgres run test test-fast chaos lint ui review bench bench-quick clean

install: java browser postgres $(VENV)/.installed

# Spark needs Java 17 or newer; install the headless JRE from Debian where it is missing.
java:
	@major=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1); \
	if [ -z "$$major" ] || [ "$$major" -lt 17 ]; then \
		echo "Java 17 not found (got '$${major:-none}'): installing openjdk-17-jre-headless"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq openjdk-17-jre-headless; \
	fi

# Headless Chromium renders the project's web pages in tests (lineage graph, review page).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Chromium not found: installing Debian's chromium"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium; \
	fi

# The instance tests start a throwaway PostgreSQL server (initdb, pg_ctl) on 127.0.0.1; install
# Debian's server binaries where they are missing (they stay out of PATH, under
# /usr/lib/postgresql/<version>/bin, where the tests look too).
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL's initdb not found: installing Debian's postgresql"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq postgresql; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	# MDS exports are read back in tests by mosaicml-streaming's own reader. Its declared
	# dependencies pin numpy<2.2 and transformers<5 (and pull torchvision and cloud SDKs), so it
	# is installed alone; the reader modules it needs import with what is installed above.
	$(BIN)/python -m pip install -q --no-deps mosaicml-streaming==0.13.0
	touch $@

run: install
	$(BIN)/funnel run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -m "not chaos"

# The inner loop: operators, recipe, rules, ledger, CLI parsing; no whole-funnel runs, no
# cluster, no browser.
test-fast: install
	$(BIN)/pytest -m "not chaos and not slow" $(FAST_TESTS)

# Robustness loops with real processes: every stage killed between every pair of its commits
# and rerun; runs killed at random points of every stage; two runs at once (10 times); the
# daemon killed mid-chain; every read-only command started 50 times in a row.
chaos: install
	$(BIN)/pytest -m chaos

ui: install
	$(BIN)/funnel ui --host $(HOST) --port $(PORT)

# The review page (127.0.0.1 unless HOST says otherwise; then FUNNEL_REVIEW_TOKEN is required).
review: install
	$(BIN)/funnel review serve --host $(HOST) --port $(REVIEW_PORT)

# Every benchmark at full size (see docs/benchmarks.md for how long each takes), then the
# generated docs/benchmarks.md; bench-quick runs a reduced set at reduced sizes in under 15 minutes on 2 cores.
bench: install
	$(BIN)/python -m benchmarks

bench-quick: install
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) lake
