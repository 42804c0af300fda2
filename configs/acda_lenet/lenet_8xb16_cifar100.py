# LeNet baseline (ACDA paper, Table 1) on CIFAR-100, with mmpretrain's
# CIFAR-100 recipe at lr 0.01 (no BN in LeNet).
_base_ = ['./_base_/lenet_cifar.py', '../_base_/mmpretrain_cifar100_recipe.py']

model = dict(backbone=dict(num_classes=100))
optim_wrapper = dict(optimizer=dict(lr=0.01))
