# One entry point for people and CI. `make run` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only torch first, so sentence-transformers does not pull the CUDA build. A GPU user
# sets TORCH to the build for their CUDA version (see README).
TORCH ?= torch==2.13.0
OUT ?= out/samples

.PHONY: install run test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	$(BIN)/dedup cluster samples/articles/ --out $(OUT)

lint: install
	$(BIN)/ruff check dedup tests bench
	$(BIN)/ruff format --check dedup tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

format: install
	$(BIN)/ruff check --fix dedup tests bench
	$(BIN)/ruff format dedup tests bench

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
