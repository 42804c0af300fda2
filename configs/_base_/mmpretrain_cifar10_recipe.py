# mmpretrain's CIFAR-10 recipe for the plugin's classifiers (as
# mmpretrain::resnet/resnet18_8xb16_cifar10.py without its model): dataset,
# 200-epoch schedule and runtime.
_base_ = [
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR10'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR10'))
test_dataloader = val_dataloader
