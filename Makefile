# The course's commands. `make help` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The extras, requirements-<name>.txt on top of the course's pins: nbgrader (the JupyterHub route and
# its test), site (`make site`'s builder) and test (Playwright, for the browser tests).
EXTRA_STAMP := $(VENV)/.installed-nbgrader
SITE_STAMP := $(VENV)/.installed-site
TEST_STAMP := $(VENV)/.installed-test
# Extra pip options, e.g. PIP_OPTS="--extra-index-url https://download.pytorch.org/whl/cpu"
# on a Linux laptop, to get PyTorch's CPU build instead of PyPI's multi-GB CUDA build.
PIP_OPTS ?=
# SOLUTIONS=1 makes `make site` build an instructor's copy that shows the solution code.
SOLUTIONS ?=
NBVAL := --nbval-lax --nbval-cell-timeout=900 --nbval-sanitize-with tests/nbval_sanitize.cfg

export SDL_VIDEODRIVER := dummy

.DEFAULT_GOAL := help
.PHONY: help setup lab notebooks site check test grade nbgrader bench ablation checkpoint lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install the pinned packages (again only when the pins change)

$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "error: the course needs Python 3.11; '$(PYTHON)' is not. Run: make setup PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_OPTS) -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	mkdir -p $(VENV)/share/jupyter/lab/settings/overrides.d && cp jupyterlab/dqn-course.json $(VENV)/share/jupyter/lab/settings/overrides.d/
	touch $(STAMP)

lab: setup ## start JupyterLab on the student notebooks
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

notebooks: setup ## regenerate every notebook from solutions/NN_topic.py (executes only changed ones)
	$(BIN)/python -m tools.build_notebooks $(if $(FORCE),--force)

site: setup $(SITE_STAMP) ## build the course as static HTML in site/, offline (SOLUTIONS=1: with solutions, for instructors)
	$(BIN)/python -m tools.build_site --out site $(if $(filter 1,$(SOLUTIONS)),--solutions)

$(VENV)/.installed-%: $(STAMP) requirements-%.txt
	$(BIN)/python -m pip install --quiet $(PIP_OPTS) -r requirements-$*.txt
	touch $@

check: setup $(EXTRA_STAMP) $(SITE_STAMP) $(TEST_STAMP) ## everything an instructor needs green: notebook sync, unit tests, nbval on solutions
	$(BIN)/python -m tools.build_notebooks --check
	$(BIN)/pytest $(NBVAL) tests solutions

test: setup $(SITE_STAMP) $(TEST_STAMP) ## only the fast unit tests
	$(BIN)/pytest -m "not slow" tests

grade: setup ## grade a folder of student notebooks: make grade SUBMISSIONS=dir/ [OUT=grades/] [CPU_SECONDS=60] [TIMEOUT=wall s] [JOBS=n] [SHARD=i/n] [ACCEPT=review.csv]
	@test -n "$(SUBMISSIONS)" || { echo "error: name the folder to grade: make grade SUBMISSIONS=path/to/submissions/"; exit 2; }
	$(BIN)/python -m tools.grade "$(SUBMISSIONS)" $(if $(OUT),--out "$(OUT)") $(if $(CPU_SECONDS),--cpu-seconds $(CPU_SECONDS)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(SHARD),--shard $(SHARD)) $(if $(ACCEPT),--accept "$(ACCEPT)")

nbgrader: setup ## write an nbgrader course folder, one assignment per notebook: make nbgrader [OUT=nbgrader/] [FORCE=1]
	$(BIN)/python -m tools.nbgrader_course --out "$(or $(OUT),nbgrader)" $(if $(FORCE),--force)

bench: setup ## benchmark the course's DQN on seeds 0-9 (one batch of agents) beside Stable-Baselines3, on both cores
	$(BIN)/python -m benchmarks.solve_rate --seeds 0-9 --baseline sb3 --many --jobs 2 --json bench.json

ablation: setup ## notebook 7's ablation: 5 variants x seeds 0-9 as batches of agents on both cores, resuming results/ablation.jsonl
	$(BIN)/python -m benchmarks.ablation --seeds 0-9 --jobs 2 --json results/ablation.jsonl

checkpoint: setup ## retrain the shipped agent (TASK=acrobot: notebook 8's; VERIFY=1: compare with the shipped file instead)
	$(BIN)/python -m tools.train_checkpoint $(if $(TASK),--task $(TASK)) $(if $(VERIFY),--verify)

lock: ## re-resolve requirements.txt in a scratch venv and rewrite requirements-lock.txt
	$(PYTHON) -m tools.lock_requirements

clean: ## remove .venv, caches and generated scratch files (never notebooks or sources)
	rm -rf $(VENV) .venv-nbgrader .pytest_cache *.egg-info site
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
