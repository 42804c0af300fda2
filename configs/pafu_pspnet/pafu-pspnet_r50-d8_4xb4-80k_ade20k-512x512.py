# PSPNet-R50 + PAFU-PPM (PAFU paper, Table 6) on ADE20K, with mmseg's
# 80k recipe (as pspnet_r50-d8_4xb4-80k_ade20k-512x512.py).
_base_ = [
    './_base_/pafu-pspnet_r50-d8_4xb4_ade20k-512x512.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
