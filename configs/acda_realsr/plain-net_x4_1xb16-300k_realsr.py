# The paper's plain-conv baseline: the same network and recipe with
# nn.Conv2d in place of ACDA in the bottlenecks.
_base_ = ['./acda-net_x4_1xb16-300k_realsr.py']

model = dict(generator=dict(conv_cfg=None))
