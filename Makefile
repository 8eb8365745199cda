# osteocds: `make run` starts the service on http://127.0.0.1:8080, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/fhir_server/node_modules/.installed

.PHONY: run test lint bench compile interpreted system-deps node-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,compile]'
	touch $(STAMP)

# The compiled build (setup.py: mypyc compiles the record, evaluation, knowledge-matching and card
# modules in place, ~1.5-2 min). Rebuilt whenever a Python source of service/ or cards/ changes;
# `make interpreted` removes it (edits then take effect at once). COMPILE=0 runs the sources as
# they are (it removes a compiled build first).
COMPILE ?= 1
COMPILED_MANIFEST := service/_compiled.json
COMPILED_DEPS := setup.py $(wildcard service/*.py service/*/*.py cards/*.py)
ifeq ($(COMPILE),1)
BUILD := $(COMPILED_MANIFEST)
else
BUILD := interpreted
endif

$(COMPILED_MANIFEST): $(STAMP) $(COMPILED_DEPS)
	find service cards -name '*.so' -delete  # no module of an earlier build may linger
	OSTEOCDS_COMPILE=1 $(PY) setup.py --quiet build_ext --inplace >$(VENV)/compile.log 2>&1 \
	  || { tail -40 $(VENV)/compile.log; exit 1; }
	@echo "compiled: $$(grep -c '\.py"' $(COMPILED_MANIFEST)) modules (log: $(VENV)/compile.log)"

compile: $(COMPILED_MANIFEST)

interpreted:
	rm -f $(COMPILED_MANIFEST)
	find service cards -name '*.so' -delete
	rm -rf build

run: $(STAMP) $(BUILD)
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

test: $(STAMP) $(BUILD) system-deps node-deps
	$(VENV)/bin/ruff check service cards fhir_fixtures tests benchmarks setup.py
	@if [ -z "$$OSTEOCDS_TEST_DATABASE_URL" ] && command -v pg_isready >/dev/null \
	    && pg_isready -h 127.0.0.1 -p 5432 -q; then \
	  export OSTEOCDS_TEST_DATABASE_URL=$(LOCAL_TEST_DATABASE_URL); \
	fi; \
	echo "pytest (PostgreSQL store tests: $${OSTEOCDS_TEST_DATABASE_URL:-skipped, no server})"; \
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check service cards fhir_fixtures tests benchmarks setup.py

bench: $(STAMP) $(BUILD) system-deps node-deps
	$(PY) benchmarks/run.py

clean: interpreted
	rm -rf $(VENV) tests/fhir_server/node_modules
