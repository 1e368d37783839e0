# The two commands of the README: `make run` and `make test`. Both create .venv first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test e2e bench lint fmt clean package package-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tutormax-desktop --sandbox

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/python -m pytest -m xvfb $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Installers (build/README.md): the one-folder bundle in dist/tutormax-desktop/ and this
# platform's archive or installer in dist/. Not part of `make test` (minutes of CPU).
package: $(STAMP)
	$(BIN)/python build/package.py

# Builds if a source changed, then runs the bundle's own --self-test (offscreen).
package-test: $(STAMP)
	$(BIN)/python build/package.py --if-needed --self-test

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
