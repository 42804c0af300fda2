# PAFU-ResNet-110 for CIFAR (PAFU paper, section 5.3): the CIFAR ResNet-110 of
# He et al. (three stages of 18 basic blocks, 16/32/64 channels); the first
# conv of every stage is a PAFU over 16 kernels, trained with the
# decorrelation loss. Counterpart of
# mmpretrain::_base_/models/resnet18_cifar.py.
model = dict(
    type='PAFUImageClassifier',
    decorrelation_weight=1.0,
    backbone=dict(
        type='PAFUResNet_CIFAR',
        depth=110,
        stem_channels=16,
        base_channels=16,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, ),
        style='pytorch',
        pafu_cfg=dict(type='PAFU', num_kernels=16)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ))
