# Super-resolution on DIV2K with mmagic's SRCNN recipe, changed where the
# PAFU paper (sections 4.2 and 5.2) follows EDSR [27]: Adam at 1e-4, halved
# after 200k of 300k iterations (as mmagic's edsr_x*_1xb16-300k_div2k.py).
# Scale-dependent settings (LR folders, patches, crop_border, test sets) are
# in sr_div2k_x{2,3,4}.py.
_base_ = ['mmagic::srcnn/srcnn_x4k915_1xb16-1000k_div2k.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmagic'], allow_failed_imports=False)
# Named after the config (upstream: SRCNN's name): logs and
# ./work_dirs/<config name> unless --work-dir.
experiment_name = None
work_dir = None

# Fail early, naming the path and the expected layout, if data is missing.
train_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='BasicImageDataset'))
val_dataloader = dict(
    dataset=dict(type='CheckedDataset', dataset_type='BasicImageDataset'))

train_cfg = dict(max_iters=300000)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = dict(
    _delete_=True,
    type='MultiStepLR',
    by_epoch=False,
    milestones=[200000],
    gamma=0.5)
# Checkpoints in the work dir (upstream: ./work_dirs/<work dir name>).
default_hooks = dict(checkpoint=dict(out_dir=None))

# The paper's test sets, in mmagic's Set5/Set14 layout:
# data/<name>/GTmod12/<image>.png and data/<name>/LRbicx<scale>/<image>.png.
test_set_names = ['Set5', 'Set14', 'B100', 'Urban100']
