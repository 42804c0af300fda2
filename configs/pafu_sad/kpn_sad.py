# SAD, kernel prediction network: a 3x3-conv CNN predicts a 5x5 kernel per
# pixel, applied to every colour channel; 35.9K parameters.
_base_ = ['./_base_/sad.py']

model = dict(type='DenseRegressor', network=dict(type='KPN'), loss='l1')
