# The paper's plain-conv baseline (Table 5 "Baseline + MSE"): the same
# network and recipe with nn.Conv2d in place of ACDA in the bottlenecks.
_base_ = ['./acda-net_1xb16-300k_sidd.py']

model = dict(generator=dict(conv_cfg=None))
