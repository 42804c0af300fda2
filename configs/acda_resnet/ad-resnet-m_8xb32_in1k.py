# Ad-ResNet-m (ACDA paper, Table 2 and Table A): Ad-ResNet-s's recipe with
# bottleneck stages 1-2 and 1024 output channels.
_base_ = ['./ad-resnet-s_8xb32_in1k.py']

model = dict(backbone=dict(arch='m'), head=dict(in_channels=1024))
