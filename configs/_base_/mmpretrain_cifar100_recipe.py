# mmpretrain's CIFAR-100 recipe for the plugin's classifiers (as
# mmpretrain::resnet/resnet50_8xb16_cifar100.py without its model; the
# configs set the head's 100 classes).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

optim_wrapper = dict(optimizer=dict(weight_decay=0.0005))
param_scheduler = dict(
    type='MultiStepLR',
    by_epoch=True,
    milestones=[60, 120, 160],
    gamma=0.2,
)

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR100'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='CIFAR100'))
test_dataloader = val_dataloader
