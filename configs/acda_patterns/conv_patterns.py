# Pattern detection with one plain 7x7 convolution (ACDA paper fig. 6, Conv).
_base_ = ['./_base_/patterns.py']

model = dict(
    type='DenseRegressor',
    network=dict(
        type='SingleLayer',
        conv_cfg=None,
        kernel_size=7,
        in_channels=1,
        out_channels=1),
    loss='mse')
