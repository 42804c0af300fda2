# PAFU on the Spatially Adaptive Dataset (PAFU paper 3.2): one PAFU layer
# with 2 kernels of 5x5, trained briefly. The optimum is a per-pixel choice
# between a Dirac and a zero kernel; this short run lowers the L1 loss but
# does not reach it (see the README).
custom_imports = dict(imports=['pafu_acda_mm.toy'], allow_failed_imports=False)

model = dict(
    type='SingleLayerFilter',
    conv_cfg=dict(type='PAFU', num_kernels=2, tau=1.0),
    kernel_size=5)

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SADDataset', num_samples=64, seed=0))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SADDataset', num_samples=16, seed=1))
val_evaluator = dict(type='MeanAbsoluteError')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=400, val_interval=200)
val_cfg = dict(type='ValLoop')
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-2))
param_scheduler = []

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=200, by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
log_processor = dict(by_epoch=False)
