# Roundtable CRM. `make run` serves the product; `make test` runs lint and the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format worker bench clean help

help:
	@echo "make run    - install (first time), migrate, load demo data, serve on http://127.0.0.1:8000"
	@echo "make test   - install test tools, lint, run the suite on SQLite and PostgreSQL"
	@echo "make worker - run the scheduler + outbox dispatcher as its own process"
	@echo "make bench  - run the benchmarks in bench/ and print their figures"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/crm run

worker: $(STAMP)
	$(BIN)/crm worker

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/python -m pytest

# The everyday benchmarks. The million-row web benchmark is separate because building its data takes ~12 min:
#   .venv/bin/python bench/datagen.py --scale 1m --seed 42 && .venv/bin/python bench/web.py
bench: $(STAMP)
	@for f in dispatch digests import dashboard invitations smtp; do echo "== bench/$$f.py"; $(BIN)/python bench/$$f.py || exit 1; done

clean:
	rm -rf var/*.sqlite3* .pytest_cache
