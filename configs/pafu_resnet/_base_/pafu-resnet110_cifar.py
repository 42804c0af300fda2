# PAFU-ResNet-110 (PAFU paper, Table 5): the CIFAR ResNet-110 with the first
# conv of every stage a PAFU over 16 kernels, trained with the
# decorrelation loss.
_base_ = ['./resnet110_cifar.py']

model = dict(
    type='PAFUImageClassifier',
    decorrelation_weight=1.0,
    backbone=dict(
        stage_with_pafu=(True, True, True),
        pafu_cfg=dict(type='PAFU', num_kernels=16)))
