# SAD, residual FCNN baseline: the FCNN predicting a correction of its input.
_base_ = ['./_base_/sad.py']

model = dict(
    type='DenseRegressor', network=dict(type='FCNN', residual=True), loss='l1')
