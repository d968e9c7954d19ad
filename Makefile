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
# The one dependency conflict the lock accepts (STACK.md): flwr needs packaging>=24,
# tensorflow-privacy 0.9.0 pins packaging~=22.0 but runs on 25.0. Any other line fails.
PIP_CHECK_ALLOWED := tensorflow-privacy 0.9.0 has requirement packaging~=22.0, but you have packaging 25.0.
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: venv demo test test-fast bench docs federated-deployment clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@out="$$($(PY) -m pip check 2>&1)"; echo "$$out"; \
	if [ "$$out" != "No broken requirements found." ] && [ "$$out" != "$(PIP_CHECK_ALLOWED)" ]; then \
		echo "pip check: unexpected dependency conflicts (only the packaging one is accepted)"; \
		exit 1; fi
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

# The audits exit 1 when a gate fails (the demo models do fail some): that is their finding,
# not a failure of `make demo`; any other status (2: usage, crash) stops it.
demo: $(STAMP)
	$(VENV)/bin/keras-mlsec demo --output mlsec-report
	$(VENV)/bin/keras-mlsec audit --demo digits --output mlsec-report/audit-digits || test $$? -eq 1
	$(VENV)/bin/keras-mlsec audit --demo credit --output mlsec-report/audit-credit || test $$? -eq 1

test: $(STAMP) $(DOCS_STAMP)
	$(PY) -m pytest -q --durations=30 tests
	$(DOCS_VENV)/bin/mkdocs build --strict --quiet --site-dir site

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

bench: $(BENCH_STAMP)
	@status=0; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(PY) $$script || status=1; \
	done; exit $$status

# A real Flower deployment on 127.0.0.1: a SuperLink, three SuperNodes and `flwr run`
# of examples/federated_app (2 rounds); every process is stopped at the end.
federated-deployment: $(STAMP)
	$(PY) -m keras_mlsec.federated.deployment examples/federated_app --nodes 3 --rounds 2

clean:
	rm -rf $(VENV) $(DOCS_VENV) site mlsec-report .pytest_cache
