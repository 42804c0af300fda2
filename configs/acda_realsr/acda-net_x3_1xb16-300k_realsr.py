# ACDA real-world x3 super-resolution (ACDA paper, section 4.3, Table 4)
# on RealSR V3; PSNR/SSIM on the Y channel, 3 border pixels cropped.
_base_ = ['./_base_/acda-net_1xb16-300k.py', './_base_/realsr.py']

scale = 3
model = dict(generator=dict(scale=scale))
train_dataloader = dict(dataset=dict(scale=scale))
val_dataloader = dict(dataset=dict(scale=scale))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='PSNR', crop_border=scale, convert_to='Y'),
    dict(type='SSIM', crop_border=scale, convert_to='Y'),
]
test_evaluator = val_evaluator
