# PSPNet-R50 + PAFU-PPM on ADE20K at 512x512 with mmseg's runtime, as
# mmseg's pspnet_r50-d8_4xb4-*_ade20k-512x512.py before their schedule: the
# 80k and 160k configs add mmseg's schedule base.
_base_ = [
    './pafu-pspnet_r50-d8.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py'
]
custom_imports = dict(
    imports=['pafu_acda_mm.mmseg'], allow_failed_imports=False)
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))

# Fail early, naming the path and the expected layout, if the data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ADE20KDataset'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='ADE20KDataset'))
test_dataloader = val_dataloader
