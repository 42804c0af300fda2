# RealSR version 3 (Cai et al. 2019) as it ships: <camera>/<split>/<scale>/
# <name>_HR.png and <name>_LR<scale>.png, cameras Canon and Nikon. Trained on
# Train, validated and tested on Test (RealSR has no validation split). The
# per-scale configs set the scale (the dataset passes it to the pipeline).
_base_ = ['./paired_rgb_data.py']

# CheckedDataset fails early, naming the missing folder and the layout.
data_root = 'data/RealSR(V3)'
train_dataloader = dict(
    dataset=dict(
        type='CheckedDataset',
        dataset_type='RealSRDataset',
        data_root=data_root,
        split='Train',
        pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(
        train_dataloader['dataset'],
        split='Test',
        pipeline=_base_.val_pipeline))
test_dataloader = val_dataloader
