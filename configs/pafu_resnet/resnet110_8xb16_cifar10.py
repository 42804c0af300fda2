# Plain ResNet-110 on CIFAR-10, the baseline of PAFU-ResNet-110 (PAFU paper,
# Table 5; mmpretrain ships no ResNet-110), with mmpretrain's
# CIFAR-10 recipe (as resnet18_8xb16_cifar10.py: 200 epochs; the paper uses
# the schedule of Huang et al. 2016, 500 epochs).
_base_ = [
    './_base_/resnet110_cifar.py', '../_base_/mmpretrain_cifar10_recipe.py'
]
