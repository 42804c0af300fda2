# Spatially Adaptive Dataset (PAFU paper 3.2): 89x89 colour noise, black
# pixels on a grid; target: every black pixel dilated to a 5x5 black square.
# Generated from seeds: training and validation sets are independent. The
# task is local (5x5), so training uses 41x41 SAD images (the same grid
# spacing and density) to save CPU time; validation uses the paper's 89x89.
_base_ = ['./toy_runtime.py']

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='SADDataset', num_samples=4000, seed=0, size=41,
        grid_size=39))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SADDataset', num_samples=16, seed=1))
val_evaluator = dict(type='DenseError')

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
