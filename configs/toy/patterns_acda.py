# Pattern detection with one ACDA 7x7 layer (ACDA paper fig. 6, ACDA): 6
# atoms over Fourier-Bessel bases at 3x3, 5x5 and 7x7.
_base_ = ['./_base_/patterns.py']

model = dict(
    type='DenseRegressor',
    network=dict(
        type='SingleLayer',
        conv_cfg=dict(type='ACDA'),
        kernel_size=7,
        in_channels=1,
        out_channels=1),
    loss='mse')
