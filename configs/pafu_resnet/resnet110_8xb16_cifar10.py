# Plain ResNet-110 on CIFAR-10, the baseline of PAFU-ResNet-110 (PAFU paper,
# Table 5; mmpretrain ships no ResNet-110), with mmpretrain's
# CIFAR-10 recipe (as resnet18_8xb16_cifar10.py: 200 epochs; the paper uses
# the schedule of Huang et al. 2016, 500 epochs).
_base_ = [
    './_base_/resnet110_cifar.py',
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
