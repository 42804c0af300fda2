# Ad-ResNet-s (ACDA, Wang et al. ICCV 2021, Table 2 and appendix Table A) on
# ImageNet-1k: mmpretrain's ResNet-18 recipe with the Ad-ResNet backbone
# (ACDA 7x7 / 5x5 in the dynamic bottlenecks of stages 3 and 4).
_base_ = ['mmpretrain::resnet/resnet18_8xb32_in1k.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='AdResNet',
        arch='s',
        out_indices=(3, ),
        style='pytorch'),
    head=dict(in_channels=512))

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ImageNet'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ImageNet'))
test_dataloader = val_dataloader
