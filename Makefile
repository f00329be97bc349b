# Two commands on a fresh machine: `make demo` and `make test`. Nothing but Python 3.11+ needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check install install-test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/runwatch demo

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
