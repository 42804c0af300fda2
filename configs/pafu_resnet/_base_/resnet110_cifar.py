# The plain CIFAR ResNet-110 of He et al. (three stages of 18 basic blocks,
# 16/32/64 channels), the baseline of PAFU-ResNet-110 (PAFU paper, Table 5).
# mmpretrain's ResNet_CIFAR has no depth 110; PAFUResNet_CIFAR adds He et
# al.'s CIFAR depths, here with no PAFU in any stage. Counterpart of
# mmpretrain::_base_/models/resnet18_cifar.py.
model = dict(
    type='ImageClassifier',
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
        stage_with_pafu=(False, False, False)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ))
