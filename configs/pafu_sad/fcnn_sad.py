# SAD, FCNN baseline: five 3x3 convolutions with ReLUs, 35.1K parameters.
_base_ = ['./_base_/sad.py']

model = dict(type='DenseRegressor', network=dict(type='FCNN'), loss='l1')
