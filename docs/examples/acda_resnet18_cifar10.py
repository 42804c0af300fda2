# ACDA in an upstream config: mmpretrain's ResNet-18 on CIFAR-10 with every
# convolution an ACDA (no extra loss: the upstream model trains it as is).
_base_ = ['mmpretrain::resnet/resnet18_8xb16_cifar10.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmpretrain'], allow_failed_imports=False)

model = dict(backbone=dict(conv_cfg=dict(type='ACDA')))
