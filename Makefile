# Two commands matter: `make run` (set up and start the bot) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Build llama.cpp with only the library tertulia uses: no tools, server, tests or downloads.
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run chat test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[dev]'
	@touch $@

run: $(VENV)/.installed
	$(BIN)/tertulia run

chat: $(VENV)/.installed
	$(BIN)/tertulia chat

test: $(VENV)/.installed-dev
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.bench_engine
	$(BIN)/python -m bench.bench_local
	$(BIN)/python -m bench.bench_telegram
	$(BIN)/python -m bench.bench_discord

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
