import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from pafu_acda_mm.engine import PAFUAlternatingOptimizationHook
from pafu_acda_mm.layers import PAFU


class _PAFUNet(BaseModel):
    """A PAFU (kernels and its default, BatchNorm, selector) followed by a
    plain conv."""

    def __init__(self):
        super().__init__()
        self.pafu = PAFU(3, 4, 3, padding=1, num_kernels=2)
        self.head = nn.Conv2d(4, 1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.head(self.pafu(inputs)).square().mean())


class _RecordChangedParameters(Hook):
    """Per iteration, the names of the parameters the step changed."""

    def __init__(self):
        self.changed = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._before = {
            name: param.detach().clone()
            for name, param in runner.model.named_parameters()
        }

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.changed.append({
            name
            for name, param in runner.model.named_parameters()
            if not torch.equal(param, self._before[name])
        })


def _train(tmp_path, hooks, optimizer, model=None, accumulative_counts=1):
    model = model or _PAFUNet()
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        experiment_name=f'alternating_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(3, 8, 8)) for _ in range(8)],
            sampler=dict(type='InfiniteSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        train_cfg=dict(by_epoch=False, max_iters=8),
        optim_wrapper=dict(
            optimizer=optimizer, accumulative_counts=accumulative_counts),
        default_hooks=dict(checkpoint=None),
        custom_hooks=hooks)
    runner.train()
    return model


@pytest.mark.parametrize('optimizer', [
    dict(type='Adam', lr=1e-2),
    dict(type='SGD', lr=1e-2, momentum=0.9, weight_decay=1e-4)
])
def test_selector_and_kernels_train_in_turn_one_to_three(tmp_path, optimizer):
    recorder = _RecordChangedParameters()
    model = _train(tmp_path, [
        dict(type='PAFUAlternatingOptimizationHook', selector_iters=1,
             kernel_iters=3), recorder
    ], optimizer)
    names = {name for name, _ in model.named_parameters()}
    selector = {name for name in names if name.startswith('pafu.selector.')}
    assert len(selector) == 6  # 2 convs, 2 BNs (weight, bias)
    kernels = names - selector  # PAFU kernels and bias, the head conv
    # The phase at rest stays exactly as it was, momentum and weight decay
    # included: its parameters got no gradient.
    assert recorder.changed == [selector, kernels, kernels, kernels] * 2
    assert all(param.requires_grad for param in model.parameters())


def test_without_the_hook_every_parameter_trains(tmp_path):
    recorder = _RecordChangedParameters()
    model = _train(tmp_path, [recorder], dict(type='Adam', lr=1e-2))
    names = {name for name, _ in model.named_parameters()}
    assert recorder.changed == [names] * 8


def test_frozen_parameters_stay_frozen(tmp_path):
    model = _PAFUNet()
    model.head.requires_grad_(False)
    recorder = _RecordChangedParameters()
    _train(tmp_path, [
        dict(type='PAFUAlternatingOptimizationHook', selector_iters=2,
             kernel_iters=1), recorder
    ], dict(type='Adam', lr=1e-2), model)
    selector = {f'pafu.selector.{n}' for n, _ in
                model.pafu.selector.named_parameters()}
    kernels = {'pafu.weight', 'pafu.bias'}
    assert recorder.changed[:6] == [selector, selector, kernels] * 2
    assert not any(p.requires_grad for p in model.head.parameters())
    assert all(p.requires_grad for p in model.pafu.parameters())


@pytest.mark.parametrize('kwargs', [
    dict(selector_iters=0), dict(kernel_iters=1.5), dict(selector_iters=True)
])
def test_bad_cycle_is_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        PAFUAlternatingOptimizationHook(**kwargs)


def test_gradient_accumulation_is_refused(tmp_path):
    hook = dict(type='PAFUAlternatingOptimizationHook')
    with pytest.raises(ValueError, match='accumulative_counts=1, got 2'):
        _train(tmp_path, [hook], dict(type='Adam', lr=1e-2),
               accumulative_counts=2)


def test_model_without_pafu_is_refused():
    with pytest.raises(ValueError, match='no.*PAFU|PAFU.*none'):
        PAFUAlternatingOptimizationHook.split_parameters(nn.Conv2d(3, 3, 3))
