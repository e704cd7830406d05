# Standing Order. `make run` and `make test` need nothing but Python 3.11+ (and npm for the
# pinned front-end assets, which the first run installs into the venv).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000
HTMX_VERSION := 2.0.8
PICO_VERSION := 2.1.1
AXE_VERSION := 4.14.1
STAMP := $(VENV)/.installed
ASSETS := static/vendor/htmx.min.js static/vendor/pico.min.css
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js

.PHONY: install run test test-postgres worker cron migrate seed bench clean-instance

install: $(STAMP) $(ASSETS) $(AXE)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ASSETS): Makefile
	npm install --silent --no-audit --no-fund --prefix $(VENV)/npm htmx.org@$(HTMX_VERSION) @picocss/pico@$(PICO_VERSION)
	mkdir -p static/vendor
	cp $(VENV)/npm/node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp $(VENV)/npm/node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css

# axe-core: the accessibility checker the browser tests inject into each page (never served).
$(AXE): Makefile
	npm install --silent --no-audit --no-fund --prefix $(VENV)/npm axe-core@$(AXE_VERSION)
	touch $@

run: install
	PORT=$(PORT) $(PY) -m portal.devstack

# Two pytest-xdist workers, each with its own embedded PostgreSQL and Redis; a test module stays
# on one worker (its live server and worker start once). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

worker: install
	$(PY) -m jobs.worker

cron: install
	$(PY) -m jobs.cron

migrate: install
	$(PY) -m flask --app wsgi db upgrade heads

seed: migrate
	$(PY) -m flask --app wsgi seed demo --if-empty

bench: install
	$(PY) -m bench $(BENCH_ARGS)
