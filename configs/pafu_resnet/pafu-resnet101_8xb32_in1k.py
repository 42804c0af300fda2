# PAFU-ResNet-101 (PAFU paper, Table 5) on ImageNet-1k.
_base_ = ['./pafu-resnet50_8xb32_in1k.py']

model = dict(backbone=dict(depth=101))
