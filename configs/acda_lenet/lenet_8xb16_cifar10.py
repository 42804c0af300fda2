# LeNet baseline (ACDA paper, Table 1) on CIFAR-10.
_base_ = [
    './_base_/lenet_cifar.py', 'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

# model settings
model = dict(backbone=dict(num_classes=10))

# schedule settings: mmpretrain's CIFAR recipe at lr 0.01 (no BN in LeNet)
optim_wrapper = dict(optimizer=dict(lr=0.01))

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR10'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR10'))
test_dataloader = val_dataloader
