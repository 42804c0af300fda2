# PSPNet-R50-D8 with PAFU-PPM (PAFU paper, section 5.4): the 3x3 conv over
# the concatenated pyramid pooling features selects among 8 kernels per
# pixel; trained with the decorrelation loss. Counterpart of
# mmseg::_base_/models/pspnet_r50-d8.py.
_base_ = ['mmseg::_base_/models/pspnet_r50-d8.py']

model = dict(
    type='PAFUEncoderDecoder',
    decorrelation_weight=1.0,
    decode_head=dict(
        type='PAFUPSPHead', pafu_cfg=dict(type='PAFU', num_kernels=8)))
