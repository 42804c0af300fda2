# PSPNet-R50 + PAFU-PPM (PAFU paper, Table 6) on ADE20K, with mmseg's
# 160k recipe (as pspnet_r50-d8_4xb4-160k_ade20k-512x512.py).
_base_ = [
    './_base_/pafu-pspnet_r50-d8_4xb4_ade20k-512x512.py',
    'mmseg::_base_/schedules/schedule_160k.py'
]
