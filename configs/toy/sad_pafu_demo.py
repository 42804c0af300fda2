# The Makefile's `demo` target: PAFU on SAD through tools/train.py.
_base_ = ['./sad_pafu.py']
