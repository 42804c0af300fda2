# LeNet for CIFAR (ACDA paper, section 4.1, Table 1): two 5x5 convolutions,
# max pooling, FC 400-120-84-classes, all inside the backbone (as
# mmpretrain::lenet/lenet5_mnist.py).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='LeNet', in_channels=3, num_classes=10),
    neck=None,
    head=dict(
        type='ClsHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
    ))
