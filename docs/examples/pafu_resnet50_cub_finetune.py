# mmpretrain's ResNet-50 fine-tuned on CUB-200 from ImageNet-21k weights,
# every conv a PAFU that starts as the pretrained conv it replaces.
_base_ = ['mmpretrain::resnet/resnet50_8xb8_cub.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

model = dict(
    type='PAFUImageClassifier',  # ImageClassifier + loss_decorrelation
    decorrelation_weight=0.1,  # it pulls the kernels apart, off the conv's
    backbone=dict(conv_cfg=dict(type='PAFU', num_kernels=4)))
