# Multi-scale pattern detection (ACDA paper 3.3, fig. 6): one 100x100 noisy
# map with 25 patterns at 3x3, 5x5 and 7x7; target: 1 at pattern centres.
# Trained on the one map with MSE, as the paper; validated on the same scene
# shifted down-right by 20 pixels (translation equivariance).
# Optimiser: Adam 1e-3 for both layers. The paper's SGD lr 0.01 makes ACDA
# with the paper's 1x1 + 3x3 generator diverge (NaN within 400 iterations
# from its default initialisation); with acda_patterns.py's 7x7 + 3x3
# generator it stays finite but has learnt nothing after 2000 iterations
# (recall 0, MSE 2.1e-3, the conv's level).
_base_ = ['../../_base_/toy_runtime.py']

scene = dict(seed=0, size=100, num_patterns=25, scales=(3, 5, 7), margin=20)
train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    collate_fn=dict(type='default_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(type='PatternDetectionDataset', **scene))
val_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], shift=(20, 20)))
val_evaluator = [dict(type='DenseError'), dict(type='CentreDetection')]

train_cfg = dict(max_iters=2000, val_interval=2000)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3))
