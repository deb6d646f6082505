# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make run   builds the environment from uv.lock if needed, then runs the pipeline
#   make test  same set-up (and Debian's chromium for the report's browser test), then the suite
# CONFIG chooses the sources: configs/default.toml (live) or configs/shared-data.toml (offline).
PYTHON ?= python3
CONFIG ?= configs/default.toml
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# Use the machine's Python (the interpreter itself: a pyenv shim path would make uv rebuild .venv
# on every call); never download an interpreter.
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS := never
export GX_ANALYTICS_ENABLED := False

.PHONY: run test ui lint setup browser servers
.DEFAULT_GOAL := run

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once at install: without it every process (each run, each test worker)
# compiles Dagster, Polars and GX again, ~5 s each where PYTHONDONTWRITEBYTECODE is set.
.venv/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --compile-bytecode
	$(UV) run --frozen python -m compileall -q pipelines
	@touch $@

setup: .venv/.synced

run: .venv/.synced
	$(UV) run --frozen observatory run --config $(CONFIG) $(ARGS)

# The report's browser test opens the report in Debian's headless chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (for the report's browser test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The object-storage, instance and distributed-execution tests start real servers on 127.0.0.1:
# SeaweedFS comes with the dev dependencies, PostgreSQL and Redis from Debian.
servers:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; } \
	  && command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql and redis-server (for the instance and worker tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server \
	    >/dev/null; }

test: lint browser servers
	$(UV) run --frozen pytest -n 2 --dist loadfile $(ARGS)

ui: .venv/.synced
	$(UV) run --frozen observatory ui --config $(CONFIG)

lint: .venv/.synced
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
