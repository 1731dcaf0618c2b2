# One entry point for people and CI. `make run` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU-only torch first, so sentence-transformers does not pull the CUDA build. A GPU user
# sets TORCH to the build for their CUDA version (see README).
TORCH ?= torch==2.13.0
OUT ?= out/samples
# The browser tests drive Debian's chromium headless (tests/test_html_browser.py).
CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser run test lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,ray]"
	touch $@

run: install
	$(BIN)/dedup cluster samples/articles/ --out $(OUT)
	$(BIN)/dedup evaluate clusters samples/articles/ --labels samples/labels.csv

lint: install
	$(BIN)/ruff check dedup tests bench
	$(BIN)/ruff format --check dedup tests bench
	$(BIN)/mypy

# Installs chromium when it is missing; when it cannot, says why and the browser tests skip.
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "make browser: $(CHROMIUM) is missing and installing it needs root:" \
	    "run 'sudo apt-get install chromium' (the browser tests skip until then)" >&2; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make browser: $(CHROMIUM) is missing and there is no apt-get to install it" \
	    "(the browser tests skip until it is there)" >&2; \
	else \
	  echo "make browser: installing chromium with apt-get" >&2; \
	  { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	    echo "make browser: apt-get could not install chromium (see above);" \
	      "the browser tests skip until $(CHROMIUM) is there" >&2; \
	fi

test: lint browser
	$(BIN)/python -m pytest

format: install
	$(BIN)/ruff check --fix dedup tests bench
	$(BIN)/ruff format dedup tests bench

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
