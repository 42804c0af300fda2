# Both targets set up the environment first (tools/setup_env.sh: ~20-30 min
# the first time on a machine, seconds afterwards).
PYTHON := .venv/bin/python

.PHONY: env demo test

env:
	bash tools/setup_env.sh

# The main job: train a PAFU on the SAD toy task through mmengine's Runner.
demo: env
	$(PYTHON) tools/train.py configs/toy/sad_pafu_demo.py --work-dir work_dirs/sad_pafu_demo

test: env
	$(PYTHON) -m pytest tests
