# Spatially Adaptive Dataset (PAFU paper 3.2): 89x89 colour noise, black
# pixels on a grid; target: every black pixel dilated to a 5x5 black square.
# Generated from seeds: training and validation sets are independent. Every
# method gets the same budget: 1000 iterations of 2 images (about a minute
# on a laptop CPU for the 35K-parameter CNNs). Smaller training images would
# be cheaper but give zero padding (which looks like black pixels) a large
# share of the pixels: it confuses every method's black-pixel detection.
_base_ = ['../../_base_/toy_runtime.py']

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SADDataset', num_samples=2000, seed=0))
val_dataloader = dict(
    train_dataloader,
    batch_size=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SADDataset', num_samples=16, seed=1))
val_evaluator = dict(type='DenseError')

train_cfg = dict(max_iters=1000, val_interval=1000)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
# Adam's last iterate at two images a step wanders; every method is
# validated (and checkpointed) with its weights averaged over about the last
# 100 iterations, BatchNorm statistics included. The selection health of
# PAFU layers goes into every log, whichever script trains.
custom_hooks = [
    dict(type='EMAHook', momentum=0.01, update_buffers=True),
    dict(type='SelectionHealthHook')
]
