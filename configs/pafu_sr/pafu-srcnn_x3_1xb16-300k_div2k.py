# PAFU-SRCNN (PAFU paper, Table 4) at x3: mmagic's SRCNN whose output conv
# is a PAFU of 16 kernels selecting on the embeddings before it, trained
# with the decorrelation loss.
_base_ = ['./_base_/sr_div2k_x3.py']
model = dict(
    type='PAFUEditModel',
    decorrelation_weight=1.0,
    generator=dict(
        type='PAFUSRCNNNet', out_conv_cfg=dict(type='PAFU', num_kernels=16)))
