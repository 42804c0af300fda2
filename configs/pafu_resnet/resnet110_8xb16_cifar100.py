# Plain ResNet-110 on CIFAR-100, the baseline of PAFU-ResNet-110 (PAFU paper,
# Table 5; mmpretrain ships no ResNet-110), with mmpretrain's
# CIFAR-100 recipe (as resnet50_8xb16_cifar100.py).
_base_ = [
    './_base_/resnet110_cifar.py', '../_base_/mmpretrain_cifar100_recipe.py'
]

model = dict(head=dict(num_classes=100))
