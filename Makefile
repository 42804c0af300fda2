# Both targets set up the environments first (tools/setup_env.sh: minutes the
# first time on a machine, seconds afterwards).
PYTHON := .venv/bin/python
PYTHON_OLDEST := .venv-torch2.1/bin/python

.PHONY: env env-oldest demo test

env:
	bash tools/setup_env.sh

env-oldest:
	bash tools/setup_env.sh torch2.1

# The main job: the papers' synthetic experiments (SAD, pattern detection),
# every method trained through mmengine's Runner, then PAFU and ACDA against
# their plain twins on real photographs (super-resolution, denoising) through
# tools/train.py and tools/test.py; prints both results tables.
demo: env
	$(PYTHON) tools/toy/run_comparison.py
	$(PYTHON) tools/demo/run_photo_comparison.py

# The full suite on torch 2.13, then on torch 2.1 every test but the
# end-to-end runs, of which one train + test per codebase. The Triton kernels
# are tested on torch 2.13 only: torch 2.1's triton has no usable CPU interpreter.
test: env env-oldest
	$(PYTHON) -m pytest tests
	$(PYTHON_OLDEST) -m pytest tests -m "(not e2e or oldest_torch) and not triton"
