# sr_div2k.py at x3: LR folders X3_sub and LRbicx3, EDSR's 48x48 LR
# patches, PSNR/SSIM on the Y channel with crop_border = scale (the paper's
# tables); test on Set5, Set14, B100 and Urban100. sr_div2k_x{2,3,4}.py differ
# only in `scale`.
_base_ = ['./sr_div2k.py']
scale = 3

model = dict(
    generator=dict(upscale_factor=scale), test_cfg=dict(crop_border=scale))

scale_settings = dict(
    SetValues=dict(dictionary=dict(scale=scale)),
    PairedRandomCrop=dict(gt_patch_size=48 * scale))
train_pipeline = [
    dict(step, **scale_settings.get(step['type'], {}))
    for step in _base_.train_pipeline
]
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img=f'DIV2K_train_LR_bicubic/X{scale}_sub'),
        pipeline=train_pipeline))

val_dataloader = dict(dataset=dict(data_prefix=dict(img=f'LRbicx{scale}')))
val_evaluator = dict(metrics=[
    dict(type='MAE'),
    dict(type='PSNR', crop_border=scale, convert_to='Y'),
    dict(type='SSIM', crop_border=scale, convert_to='Y'),
])

test_dataloader = [
    dict(
        _base_.val_dataloader,
        dataset=dict(
            _base_.val_dataloader.dataset,
            metainfo=dict(dataset_type=name.lower(), task_name='sisr'),
            data_root=f'data/{name}',
            data_prefix=dict(img=f'LRbicx{scale}', gt='GTmod12')))
    for name in _base_.test_set_names
]
test_evaluator = [
    dict(
        type='Evaluator',
        metrics=[
            dict(type='PSNR', crop_border=scale, convert_to='Y', prefix=name),
            dict(type='SSIM', crop_border=scale, convert_to='Y', prefix=name)
        ]) for name in _base_.test_set_names
]
