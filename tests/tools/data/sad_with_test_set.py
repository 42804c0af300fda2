# The shipped SAD demo with its validation set as test set, for tools/test.py.
_base_ = ['../../../configs/pafu_sad/pafu_sad.py']
test_dataloader = {{_base_.val_dataloader}}
test_evaluator = {{_base_.val_evaluator}}
test_cfg = dict(type='TestLoop')
