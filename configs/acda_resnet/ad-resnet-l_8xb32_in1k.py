# Ad-ResNet-l (ACDA paper, Table 2 and Table A): Ad-ResNet-m with 2/3/8/3
# blocks per stage.
_base_ = ['./ad-resnet-m_8xb32_in1k.py']

model = dict(backbone=dict(arch='l'))
