# Two setup commands: `make demo` and `make test`. Each creates .venv from the
# pinned lock when it is missing and does nothing extra when it is present.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
DOCS_VENV := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: venv demo test test-fast bench docs clean

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

# The docs tools live in their own venv and lock: never runtime dependencies.
$(DOCS_STAMP): requirements-docs.lock
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --no-deps -r requirements-docs.lock
	$(DOCS_VENV)/bin/python -m pip check
	@touch $@

docs: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/mkdocs build --strict --quiet --site-dir site

demo: $(STAMP)
	$(VENV)/bin/keras-mlsec demo --output mlsec-report

test: $(STAMP) $(DOCS_STAMP)
	$(PY) -m pytest -q tests
	$(DOCS_VENV)/bin/mkdocs build --strict --quiet --site-dir site

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

bench: $(BENCH_STAMP)
	@status=0; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(PY) $$script || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) $(DOCS_VENV) site mlsec-report .pytest_cache
