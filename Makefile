# Two setup commands: `make demo` and `make test`. Each creates .venv from the
# pinned lock when it is missing and does nothing extra when it is present.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: venv demo test test-fast bench clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $@

$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.lock
	@touch $@

# The audits exit 1 when a gate fails (the demo models do fail some): that is their finding,
# not a failure of `make demo`; any other status (2: usage, crash) stops it.
demo: $(STAMP)
	$(VENV)/bin/keras-mlsec demo --output mlsec-report
	$(VENV)/bin/keras-mlsec audit --demo digits --output mlsec-report/audit-digits || test $$? -eq 1
	$(VENV)/bin/keras-mlsec audit --demo credit --output mlsec-report/audit-credit || test $$? -eq 1

test: $(STAMP)
	$(PY) -m pytest -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

bench: $(BENCH_STAMP)
	@status=0; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(PY) $$script || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) mlsec-report .pytest_cache
