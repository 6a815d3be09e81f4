# The course's commands. `make help` lists them.
# The Python versions the lock resolves to wheels for (tests/test_resolution.py checks each).
SUPPORTED_PYTHONS := 3.11 3.12 3.13
comma := ,
SUPPORTED_NAMES := $(subst $() $(),$(comma) ,$(filter-out $(lastword $(SUPPORTED_PYTHONS)),$(SUPPORTED_PYTHONS))) or $(lastword $(SUPPORTED_PYTHONS))
# Default: the first of python3, python3.13, python3.12, python3.11 that is a supported version.
ifndef PYTHON
PYTHON := $(firstword $(foreach p,python3 python3.13 python3.12 python3.11,$(shell $(p) -c 'import sys; print(sys.executable) if "%d.%d" % sys.version_info[:2] in "$(SUPPORTED_PYTHONS)".split() else None' 2>/dev/null)))
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The extras, requirements-<name>.txt on top of the course's pins: nbgrader (the JupyterHub route and
# its test), site (`make site`'s builder) and test (Playwright, for the browser tests).
# `make nbgrader` uses the course's pins only; `make check` installs all three.
SITE_STAMP := $(VENV)/.installed-site
TEST_STAMP := $(VENV)/.installed-test
CHECK_STAMP := $(VENV)/.installed-check
# Extra pip options, e.g. PIP_OPTS="--extra-index-url https://download.pytorch.org/whl/cpu"
# on a Linux laptop, to get PyTorch's CPU build instead of PyPI's multi-GB CUDA build.
PIP_OPTS ?=
# pip byte-compiles what it installs one file at a time (half of a fresh setup here); it installs
# without, and tools.byte_compile then compiles the venv's packages on every core (not their own test suites).
PIP_INSTALL = $(BIN)/python -m pip install --quiet --no-compile $(PIP_OPTS)
# A venv starts with the pip its Python bundles (23.2 with 3.11.7), which spends twice the CPU time of
# a current one resolving the lock's 160 pins (user 30-31 s against 14-15 s here); one pip on every Python.
PIP_VERSION := 26.3
BYTE_COMPILE = $(BIN)/python -m tools.byte_compile
# SOLUTIONS=1 makes `make site` build an instructor's copy that shows the solution code.
SOLUTIONS ?=
NBVAL := --nbval-lax --nbval-cell-timeout=900 --nbval-sanitize-with tests/nbval_sanitize.cfg
# pytest-xdist: one worker per CPU core (TEST_JOBS=1 for one process); each test file, and each
# notebook's cells, stay in one worker in order (conftest.py); the files with long tests go first.
TEST_JOBS ?= auto
PARALLEL := -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder

export SDL_VIDEODRIVER := dummy

.DEFAULT_GOAL := help
.PHONY: help setup lab notebooks site check check-wheels reproduce test grade nbgrader bench ablation checkpoint lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install the pinned packages (again only when the pins change)

# The venv (made with $(PYTHON) if missing) with the requirements files $(1) installed in one pip run, the
# course itself (editable, for `utils`), byte code, and JupyterLab's course settings.
define install_venv
	@test -n "$(PYTHON)" || { echo "error: the course needs Python $(SUPPORTED_NAMES), and no python3, python3.13, python3.12 or python3.11 here is one. Install one, or run: make setup PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] not in "$(SUPPORTED_PYTHONS)".split())' 2>/dev/null || \
		{ echo "error: the course needs Python $(SUPPORTED_NAMES); '$(PYTHON)' is $$($(PYTHON) -V 2>/dev/null || echo 'not a Python that runs'). Run: make setup PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) pip==$(PIP_VERSION)
	$(PIP_INSTALL) $(foreach file,$(1),-r $(file))
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BYTE_COMPILE)
	mkdir -p $(VENV)/share/jupyter/lab/settings/overrides.d && cp jupyterlab/dqn-course.json $(VENV)/share/jupyter/lab/settings/overrides.d/
endef

$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	$(call install_venv,requirements.txt)
	touch $(STAMP)

lab: setup ## start JupyterLab on the student notebooks
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

notebooks: setup ## regenerate every notebook from solutions/NN_topic.py (executes only changed ones)
	$(BIN)/python -m tools.build_notebooks $(if $(FORCE),--force)

site: setup $(SITE_STAMP) ## build the course as static HTML in site/, offline (SOLUTIONS=1: with solutions, for instructors)
	$(BIN)/python -m tools.build_site --out site $(if $(filter 1,$(SOLUTIONS)),--solutions)

$(VENV)/.installed-%: $(STAMP) requirements-%.txt
	$(PIP_INSTALL) -r requirements-$*.txt
	$(BYTE_COMPILE)
	touch $@

# `make check` needs the course's pins and all three extras: one pip run installs them all (on a fresh
# clone, one resolution and one byte-compilation, not two), and stands for `make setup` and each extra.
CHECK_REQUIREMENTS := requirements.txt requirements-nbgrader.txt requirements-site.txt requirements-test.txt
$(CHECK_STAMP): $(CHECK_REQUIREMENTS) requirements-lock.txt pyproject.toml
	$(call install_venv,$(CHECK_REQUIREMENTS))
	touch $(STAMP) $(SITE_STAMP) $(TEST_STAMP) $(VENV)/.installed-nbgrader $@

check: $(CHECK_STAMP) ## everything an instructor needs green: notebook sync, unit tests, nbval on solutions
	$(BIN)/python -m tools.build_notebooks --check
	$(BIN)/pytest $(PARALLEL) $(NBVAL) --durations=15 tests solutions

check-wheels: setup ## ask PyPI now whether the pins resolve to wheels on Python 3.11, 3.12 and 3.13 (needs them installed)
	$(BIN)/pytest -m network tests/test_resolution.py

reproduce: setup ## retrain whole committed runs (notebooks 7 and 8, the batch check) and compare every number; make check retrains their first steps
	$(BIN)/pytest $(PARALLEL) -m reproduce tests

test: setup $(SITE_STAMP) $(TEST_STAMP) ## only the fast unit tests
	$(BIN)/pytest $(PARALLEL) -m "not slow" tests

grade: setup ## grade a folder of student notebooks: make grade SUBMISSIONS=dir/ [OUT=grades/] [CPU_SECONDS=60] [TIMEOUT=wall s] [JOBS=n] [SHARD=i/n] [ACCEPT=review.csv]
	@test -n "$(SUBMISSIONS)" || { echo "error: name the folder to grade: make grade SUBMISSIONS=path/to/submissions/"; exit 2; }
	$(BIN)/python -m tools.grade "$(SUBMISSIONS)" $(if $(OUT),--out "$(OUT)") $(if $(CPU_SECONDS),--cpu-seconds $(CPU_SECONDS)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(SHARD),--shard $(SHARD)) $(if $(ACCEPT),--accept "$(ACCEPT)")

nbgrader: setup ## write an nbgrader course folder, one assignment per notebook: make nbgrader [OUT=nbgrader/] [FORCE=1]
	$(BIN)/python -m tools.nbgrader_course --out "$(or $(OUT),nbgrader)" $(if $(FORCE),--force)

bench: setup ## benchmark the course's DQN on seeds 0-9 (one batch of agents) beside Stable-Baselines3, on both cores
	$(BIN)/python -m benchmarks.solve_rate --seeds 0-9 --baseline sb3 --many --jobs 2 --json bench.json

ablation: setup ## notebook 7's ablation: learning rates tuned on seeds 40-49, then 5 variants x seeds 110-139, batches of agents on both cores, resuming results/
	$(BIN)/python -m benchmarks.ablation --jobs 2

checkpoint: setup ## retrain the shipped agent (TASK=acrobot: notebook 8's; VERIFY=1: compare with the shipped file instead)
	$(BIN)/python -m tools.train_checkpoint $(if $(TASK),--task $(TASK)) $(if $(VERIFY),--verify)

lock: ## re-resolve requirements.txt, check it on Python 3.11-3.13, rewrite the lock (KEEP=1: keep its versions)
	$(PYTHON) -m tools.lock_requirements $(if $(KEEP),--keep)

clean: ## remove .venv, caches and generated scratch files (never notebooks or sources)
	rm -rf $(VENV) .venv-nbgrader .pytest_cache *.egg-info site
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
