"""A hook for the tools tests: what each rank saw, saved per rank."""
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


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
