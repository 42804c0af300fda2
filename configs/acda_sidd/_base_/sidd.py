# SIDD in mmagic's layout (as its NAFNet and Restormer SIDD configs):
# <root>/gt/<name>_GT.png and <root>/noisy/<name>_NOISY.png, train and val
# roots. Metrics on RGB, as mmagic's SIDD configs.
# The noisy/LR image ('img') and its ground truth ('gt'), RGB.
load_pair = [
    dict(
        type='LoadImageFromFile',
        key='img',
        color_type='color',
        channel_order='rgb',
        imdecode_backend='cv2'),
    dict(
        type='LoadImageFromFile',
        key='gt',
        color_type='color',
        channel_order='rgb',
        imdecode_backend='cv2'),
]
train_pipeline = load_pair + [
    dict(type='SetValues', dictionary=dict(scale=1)),
    dict(type='PairedRandomCrop', gt_patch_size=128),
    dict(
        type='Flip',
        keys=['img', 'gt'],
        flip_ratio=0.5,
        direction='horizontal'),
    dict(
        type='Flip', keys=['img', 'gt'], flip_ratio=0.5, direction='vertical'),
    dict(type='RandomTransposeHW', keys=['img', 'gt'], transpose_ratio=0.5),
    dict(type='PackInputs')
]
val_pipeline = load_pair + [dict(type='PackInputs')]

# CheckedDataset fails early, naming the missing folder and the layout.
sidd_dataset = dict(
    type='CheckedDataset',
    dataset_type='BasicImageDataset',
    metainfo=dict(dataset_type='sidd', task_name='denoising'),
    data_prefix=dict(gt='gt', img='noisy'),
    filename_tmpl=dict(gt='{}_GT', img='{}_NOISY'))
train_dataloader = dict(
    num_workers=4,
    batch_size=16,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        sidd_dataset, data_root='data/SIDD/train', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        sidd_dataset, data_root='data/SIDD/val', pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [dict(type='MAE'), dict(type='PSNR'), dict(type='SSIM')]
test_evaluator = val_evaluator
