# PAFU-ResNet-50 (PAFU, Kokkinos et al. ICCV 2019, section 5.3, Table 5) on
# ImageNet-1k: mmpretrain's ResNet-50 recipe; the first 3x3 conv of every
# stage is a PAFU over 16 kernels, trained with the decorrelation loss.
_base_ = ['mmpretrain::resnet/resnet50_8xb32_in1k.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

model = dict(
    type='PAFUImageClassifier',
    decorrelation_weight=1.0,
    backbone=dict(
        type='PAFUResNet', pafu_cfg=dict(type='PAFU', num_kernels=16)))

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ImageNet'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ImageNet'))
test_dataloader = val_dataloader
