# The one entry point. `make demo` and `make test` work on a fresh clone with only Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# The engine (a target of profiles.yml): postgres (default), duckdb or spark.
TARGET ?= $(or $(DBT_TARGET),postgres)
export DBT_TARGET := $(TARGET)
# The engines `make test` runs the reference comparisons on (spark: pyspark + Java 17).
ENGINES ?= postgres,duckdb,spark
export RFM_TEST_ENGINES := $(ENGINES)

# The tests: pytest-xdist processes side by side (0 = one process, no xdist). Tests that share a
# built warehouse stay in one process (tests/python/conftest.py).
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest
XDIST := $(if $(filter-out 0,$(WORKERS)),-n $(WORKERS) --dist loadgroup --no-loadscope-reorder)

.PHONY: setup report ltv demo clusters sync crm test test-fast test-postgres test-duckdb \
	test-spark lint bench stop clean

setup: $(STAMP)  ## create .venv and install the project (quick when done)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	rm -f $(VENV)/.installed-* && touch $@

report: setup  ## HTML + PNG report of the built marts (segment mix, transitions, R x F grid)
	$(BIN)/rfm report

ltv: setup  ## lifetime value: candidates compared out of time, predictions -> rfm_segments_current
	$(BIN)/rfm ltv

demo: setup  ## embedded PostgreSQL (or TARGET=duckdb|spark) + demo data + dbt build + summary
	$(BIN)/rfm demo

clusters: setup  ## k-means segments on the built marts: fit, store the model, assign + profile in dbt
	$(BIN)/rfm clusters

# Without CRM_BASE_URL, `make sync` starts the local CRM (.local/crm) for the run and stops it.
SYNC ?= syncs/crm_contacts.yml
sync: setup  ## push the current segments to the CRM (plan, progress, what the CRM holds): SYNC=file
	$(BIN)/rfm sync $(SYNC) $(if $(CRM_BASE_URL),,--local-crm)

crm: setup  ## serve the local CRM on :8765 (fault switches: .venv/bin/rfm crm serve --help)
	$(BIN)/rfm crm serve

lint: setup  ## sqlfluff (dbt templater: needs the database) and ruff
	$(BIN)/ruff check src tests/python
	@# an empty database, so that the result does not depend on what was built before
	DBT_TARGET=postgres $(BIN)/rfm exec --database rfm_lint -- \
		$(BIN)/sqlfluff lint models tests/*.sql analyses

test: setup  ## lint + every test, on every engine of $(ENGINES), lint beside the tests
	@# the embedded server first (unless PGHOST names yours), so that lint and the test
	@# processes find it running
	@test -n "$$PGHOST" || $(BIN)/rfm server start
	@mkdir -p .local
	@$(MAKE) --no-print-directory lint > .local/lint.log 2>&1 & lint=$$!; \
	$(PYTEST) $(XDIST); tests=$$?; \
	wait $$lint; linted=$$?; \
	echo "--- make lint (run beside the tests): exit $$linted"; cat .local/lint.log; \
	test $$linted -eq 0 && exit $$tests; exit 1

# The tiers (pytest markers, pyproject.toml); each selects what it names and nothing else.
test-fast: setup  ## the tests that need no warehouse (reference, rules, demo data, maths...)
	$(PYTEST) -m fast

test-postgres: setup  ## the tests on PostgreSQL
	RFM_TEST_ENGINES=postgres $(PYTEST) $(XDIST) -m postgres

test-duckdb: setup  ## the tests on DuckDB
	RFM_TEST_ENGINES=duckdb $(PYTEST) $(XDIST) -m duckdb

test-spark: setup  ## the tests on the local Spark (pyspark + Java 17)
	RFM_TEST_ENGINES=spark $(PYTEST) $(XDIST) -m spark

SIZE ?= S
ENGINE ?= $(TARGET)
bench: setup  ## benchmark (naive, ours full + incremental, floor, pandas): SIZE=S|M|L ENGINE=postgres|duckdb|spark
	$(BIN)/rfm bench --size $(SIZE) --engine $(ENGINE)

stop:  ## stop the embedded PostgreSQL
	$(BIN)/rfm server stop

clean: stop
	rm -rf target logs .local
