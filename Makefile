# Two commands: `make run` (the demo) and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Use the active virtual environment, or make one in .venv.
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
else
VENV := .venv
endif
PY := $(VENV)/bin/python
PYTHON ?= python3
PORT ?= 8000
WEB_WORKERS ?= 2
WORKER_CONCURRENCY ?= 2
VAR_DIR ?= var
VAR := $(abspath $(VAR_DIR))
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# axe-core for the accessibility tests, from package-lock.json (npm ci empties node_modules/
# first, so the stamp goes with it). Without npm the demo still runs; those tests skip, or
# fail under REQUIRE_BROWSER=1.
NODE_STAMP := node_modules/.installed

.PHONY: help install run migrate seed test screenshots lint format bench-queue bench-smoke clean
.PHONY: audit

help:
	@echo "make run    - the demo on http://127.0.0.1:$(PORT) (SQLite, embedded broker, worker, beat, relay)"
	@echo "make test   - the test suite (set DATABASE_URL / CELERY_BROKER_URL for PostgreSQL / Redis)"
	@echo "make lint   - ruff and mypy"
	@echo "make audit  - bandit (high severity) and pip-audit"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -qq --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "npm not found: the accessibility tests need it (apt-get install npm)"; \
	fi

install: $(STAMP) $(NODE_STAMP)

migrate: install
	@mkdir -p $(VAR)
	VAR_DIR="$(VAR)" $(PY) manage.py migrate --noinput
	VAR_DIR="$(VAR)" $(PY) manage.py collectstatic --noinput --verbosity 0

seed: migrate
	VAR_DIR="$(VAR)" $(PY) manage.py seed_demo

# supervisord in the foreground (deploy/supervisord.conf): web, worker, beat and the outbox
# relay; one that dies is started again, Ctrl-C stops them all.
run: seed
	@mkdir -p $(VAR)/log
	@echo
	@echo "Supportability Review on http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker, beat and relay)"
	@echo
	PATH="$(abspath $(VENV))/bin:$$PATH" VAR_DIR="$(VAR)" PORT=$(PORT) WEB_WORKERS=$(WEB_WORKERS) \
	  WORKER_CONCURRENCY=$(WORKER_CONCURRENCY) exec $(VENV)/bin/supervisord -c deploy/supervisord.conf

test: install
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

screenshots: install
	SCREENSHOT_DIR=$(CURDIR)/docs REQUIRE_BROWSER=1 $(PY) -m pytest -p no:xdist \
	  tests/browser/test_active_learning_flow.py tests/browser/test_adjudication_flow.py \
	  tests/browser/test_retrain_flow.py tests/browser/test_screenshots.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

# bandit: no high-severity finding in the app's code; pip-audit: no known vulnerability in
# the installed packages, or a line saying the vulnerability database could not be reached.
audit: install
	$(VENV)/bin/bandit -q -r supportability labeling review -lll
	@echo "bandit: no high-severity findings"
	$(PY) .ci/pip_audit.py

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/supportability
bench-queue: install
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/queue.py $(BENCH_ARGS)

# Every benchmark's --smoke mode (tests/test_bench_smoke.py), PostgreSQL and Redis required:
# tiny sizes, the same code and checks, each in a database of its own beside
# BENCH_DATABASE_URL's (dropped afterwards); nothing is written to bench/RESULTS.md or docs/.
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/14
bench-smoke: install
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_BROKER_URL) \
	  REQUIRE_POSTGRES=1 REQUIRE_REDIS=1 $(PY) -m pytest -n 2 -m bench tests/test_bench_smoke.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
