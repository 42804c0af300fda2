# Both targets set up the environment first (tools/setup_env.sh: ~20-30 min
# the first time on a machine, seconds afterwards).
PYTHON := .venv/bin/python

.PHONY: env demo test

env:
	bash tools/setup_env.sh

# The main job: the papers' synthetic experiments (SAD, pattern detection),
# every method trained through mmengine's Runner; prints the results table.
demo: env
	$(PYTHON) tools/toy/run_comparison.py

test: env
	$(PYTHON) -m pytest tests
