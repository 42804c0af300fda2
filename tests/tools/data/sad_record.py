# The shipped SAD demo, recording losses and weights per rank
# (tests/tools/data/pafu_test_modules.py must be importable).
_base_ = ['../../../configs/pafu_sad/pafu_sad.py']
custom_imports = dict(
    imports=['pafu_acda_mm.toy', 'pafu_test_modules'],
    allow_failed_imports=False)
custom_hooks = [dict(type='RankRecordHook')]
