# PAFU-ResNet-110 (PAFU paper, Table 5) on CIFAR-10: the ResNet-110 baseline
# and its recipe, with the first conv of every stage a PAFU over 16 kernels,
# trained with the decorrelation loss.
_base_ = ['./resnet110_8xb16_cifar10.py']
model = dict(
    type='PAFUImageClassifier',
    decorrelation_weight=1.0,
    backbone=dict(
        stage_with_pafu=(True, True, True),
        pafu_cfg=dict(type='PAFU', num_kernels=16)))
