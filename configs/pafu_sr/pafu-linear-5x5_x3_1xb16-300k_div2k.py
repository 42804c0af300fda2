# Linear PAFU super-resolution (PAFU paper, Table 2, "5x5") at x3: one PAFU
# of 16 kernels 5x5 on the LR image predicting 3 * 3^2 maps, then
# depth-to-space; trained with the decorrelation loss. The "+" rows: test
# with --cfg-options model.generator.self_ensemble=True.
_base_ = ['./_base_/sr_div2k_x3.py']
model = dict(
    type='PAFUEditModel',
    decorrelation_weight=1.0,
    generator=dict(
        _delete_=True,
        type='LinearPAFUSRNet',
        upscale_factor=_base_.scale,
        kernel_sizes=(5, ),
        pafu_cfg=dict(type='PAFU', num_kernels=16)))
