# PAFU in an upstream config: mmpretrain's ResNet-18 on CIFAR-10 with every
# convolution a PAFU of 4 kernels, trained with PAFU's decorrelation loss.
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

model = dict(
    type='PAFUImageClassifier',  # ImageClassifier + loss_decorrelation
    decorrelation_weight=1.0,
    backbone=dict(conv_cfg=dict(type='PAFU', num_kernels=4)))
