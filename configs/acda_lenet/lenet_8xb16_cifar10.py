# LeNet baseline (ACDA paper, Table 1) on CIFAR-10, with mmpretrain's CIFAR
# recipe at lr 0.01 (no BN in LeNet).
_base_ = ['./_base_/lenet_cifar.py', '../_base_/mmpretrain_cifar10_recipe.py']

optim_wrapper = dict(optimizer=dict(lr=0.01))
