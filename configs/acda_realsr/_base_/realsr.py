# RealSR version 3 (Cai et al. 2019) as it ships: <camera>/<split>/<scale>/
# <name>_HR.png and <name>_LR<scale>.png, cameras Canon and Nikon. Trained on
# Train, validated and tested on Test (RealSR has no validation split). The
# per-scale configs set the scale (the dataset passes it to the pipeline).
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
    dict(type='PairedRandomCrop', gt_patch_size=192),
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
data_root = 'data/RealSR(V3)'
train_dataloader = dict(
    num_workers=4,
    batch_size=16,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CheckedDataset',
        dataset_type='RealSRDataset',
        data_root=data_root,
        split='Train',
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CheckedDataset',
        dataset_type='RealSRDataset',
        data_root=data_root,
        split='Test',
        pipeline=val_pipeline))
test_dataloader = val_dataloader
