# osteocds: `make run` starts the service on http://127.0.0.1:8080, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/fhir_server/node_modules/.installed

.PHONY: run test lint bench system-deps node-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/osteocds serve --dev --host 127.0.0.1 --port 8080

# Debian packages the tests need (Chromium for the preview page test), installed when we are root with apt.
system-deps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  for pkg in chromium wrk; do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "not root or no apt-get: skipping Debian packages (browser tests will skip)"; fi

$(NODE_STAMP): tests/fhir_server/package.json tests/fhir_server/package-lock.json
	cd tests/fhir_server && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node-deps: $(NODE_STAMP)

# The PostgreSQL store tests use this machine's server when one answers on 127.0.0.1:5432
# (database `test`); OSTEOCDS_TEST_DATABASE_URL overrides it; without a server they skip, saying why.
LOCAL_TEST_DATABASE_URL := postgresql://postgres@127.0.0.1:5432/test

test: $(STAMP) system-deps node-deps
	$(VENV)/bin/ruff check service cards fhir_fixtures tests benchmarks
	@if [ -z "$$OSTEOCDS_TEST_DATABASE_URL" ] && command -v pg_isready >/dev/null \
	    && pg_isready -h 127.0.0.1 -p 5432 -q; then \
	  export OSTEOCDS_TEST_DATABASE_URL=$(LOCAL_TEST_DATABASE_URL); \
	fi; \
	echo "pytest (PostgreSQL store tests: $${OSTEOCDS_TEST_DATABASE_URL:-skipped, no server})"; \
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check service cards fhir_fixtures tests benchmarks

bench: $(STAMP) system-deps node-deps
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) tests/fhir_server/node_modules
