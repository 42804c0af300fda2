# SIDD in mmagic's layout (as its NAFNet and Restormer SIDD configs):
# <root>/gt/<name>_GT.png and <root>/noisy/<name>_NOISY.png, train and val
# roots. Metrics on RGB, as mmagic's SIDD configs.
_base_ = ['../../acda_realsr/_base_/paired_rgb_data.py']

# The shared pipeline on 128x128 crops; BasicImageDataset passes no scale,
# so SetValues gives PairedRandomCrop scale 1.
train_pipeline = _base_.load_pair + [
    dict(type='SetValues', dictionary=dict(scale=1)),
    dict(type='PairedRandomCrop', gt_patch_size=128),
] + _base_.train_pipeline[len(_base_.load_pair) + 1:]

# CheckedDataset fails early, naming the missing folder and the layout.
sidd_dataset = dict(
    type='CheckedDataset',
    dataset_type='BasicImageDataset',
    metainfo=dict(dataset_type='sidd', task_name='denoising'),
    data_prefix=dict(gt='gt', img='noisy'),
    filename_tmpl=dict(gt='{}_GT', img='{}_NOISY'))
train_dataloader = dict(
    dataset=dict(
        sidd_dataset, data_root='data/SIDD/train', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        sidd_dataset, data_root='data/SIDD/val', pipeline=_base_.val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [dict(type='MAE'), dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator
