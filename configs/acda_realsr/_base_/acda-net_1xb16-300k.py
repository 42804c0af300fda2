# The ACDA restoration network (ACDA paper, section 4.3) as an mmagic
# BaseEditModel trained with MSE, shared by RealSR and SIDD. The paper gives
# no schedule: Adam at 1e-4 (LP-KPN's), 300k iterations, halved at 200k.
_base_ = ['mmagic::_base_/default_runtime.py']
custom_imports = dict(
    imports=['pafu_acda_mm.mmagic'], allow_failed_imports=False)

model = dict(
    type='BaseEditModel',
    generator=dict(type='ACDARestorationNet'),
    pixel_loss=dict(type='MSELoss', loss_weight=1.0, reduction='mean'),
    train_cfg=dict(),
    test_cfg=dict(),
    data_preprocessor=dict(
        type='DataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.]))

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=300_000, val_interval=5000)
val_cfg = dict(type='MultiValLoop')
test_cfg = dict(type='MultiTestLoop')

optim_wrapper = dict(
    constructor='DefaultOptimWrapperConstructor',
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=False, milestones=[200_000], gamma=0.5)

# Checkpoints in the work dir (mmagic's runtime sends them to ./work_dirs),
# the best by PSNR kept as well.
default_hooks = dict(
    checkpoint=dict(interval=5000, save_optimizer=True, out_dir=None))
