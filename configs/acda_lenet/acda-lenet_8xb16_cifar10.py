# LeNet + ACDA (ACDA paper, section 4.1, Table 1) on CIFAR-10: both 5x5
# convolutions are ACDA (6 atoms over Fourier-Bessel bases at 3x3 and 5x5,
# the paper's appendix A.3 atom generator).
_base_ = ['./lenet_8xb16_cifar10.py']

model = dict(backbone=dict(conv_cfg=dict(type='ACDA')))
