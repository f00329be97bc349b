# Two commands on a fresh machine: `make demo` and `make test`. Nothing but Python 3.11+ needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-integrations check install install-test install-integrations bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

# The frameworks behind emitter/integrations/ (torch CPU, transformers, lightning, keras, optuna, sklearn):
# only this target installs them, into the same venv; the emitter itself never needs them.
$(VENV)/.installed-integrations: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[integrations-test]"
	touch $(VENV)/.installed $(VENV)/.installed-test $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-integrations: $(VENV)/.installed-integrations

demo: install
	$(BIN)/runwatch demo

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Each integration against its real framework on CPU, through a real Redis and collector (deselected by `make test`).
test-integrations: install-integrations
	$(BIN)/python -m pytest -m integrations tests/integrations $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/run_all.py

# Style and types: the formatter's verdict, the linter, and mypy --strict over the packages.
check: install-test
	$(BIN)/python -m ruff format --check emitter collector alerts tests bench
	$(BIN)/python -m ruff check emitter collector alerts tests bench
	$(BIN)/python -m mypy

lint: check

clean:
	rm -rf $(VENV) .runwatch build *.egg-info
