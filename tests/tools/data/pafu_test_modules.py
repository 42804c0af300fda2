"""Modules for the tools tests: a per-rank recording hook and a small model
with both adaptive layers."""
import os.path as osp

import torch
from mmcv.cnn import ConvModule
from mmengine.hooks import Hook
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.registry import HOOKS, MODELS


@HOOKS.register_module()
class RankRecordHook(Hook):
    """Record every iteration's losses and parameters on every rank; save
    them to ``<work_dir>/rank<r>.pth`` after training."""

    def before_train(self, runner) -> None:
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.records.append(
            dict(losses={k: float(v) for k, v in outputs.items()},
                 params={k: v.detach().clone()
                         for k, v in model.named_parameters()}))

    def after_train(self, runner) -> None:
        torch.save(self.records,
                   osp.join(runner.work_dir, f'rank{runner.rank}.pth'))


@MODELS.register_module()
class AdaptiveStack(BaseModel):
    """PAFU (3x3, 4 kernels) then a stride-2 ACDA 7x7, tensor mode only."""

    def __init__(self, channels: int = 8):
        super().__init__()
        self.pafu = ConvModule(3, channels, 3, padding=1,
                               conv_cfg=dict(type='PAFU', num_kernels=4))
        self.acda = ConvModule(channels, channels, 7, stride=2, padding=3,
                               conv_cfg=dict(type='ACDA'))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode != 'tensor':
            raise ValueError(f"mode must be 'tensor', got {mode!r}")
        return self.acda(self.pafu(inputs))
