# PAFU-ResNet-110 (PAFU paper, Table 5) on CIFAR-100:
# resnet110_8xb16_cifar100.py with the first conv of every stage a PAFU over
# 16 kernels, trained with the decorrelation loss.
_base_ = [
    './_base_/pafu-resnet110_cifar.py',
    '../_base_/mmpretrain_cifar100_recipe.py'
]

model = dict(head=dict(num_classes=100))
