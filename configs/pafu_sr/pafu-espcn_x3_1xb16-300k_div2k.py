# PAFU-ESPCN (PAFU paper, Table 4) at x3: ESPCN whose output conv is a PAFU
# of 16 kernels selecting on the embeddings before it, trained with the
# decorrelation loss.
_base_ = ['./espcn_x3_1xb16-300k_div2k.py']
model = dict(
    type='PAFUEditModel',
    decorrelation_weight=1.0,
    generator=dict(out_conv_cfg=dict(type='PAFU', num_kernels=16)))
