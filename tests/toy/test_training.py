from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import EMAHook

from pafu_acda_mm.engine import build_runner
from pafu_acda_mm.toy import train_and_validate

REPO = Path(__file__).resolve().parents[2]


def _tiny_sad_runner(tmp_path, validate=True):
    """A 3x3 conv on 17x17 SAD images, 4 iterations, weights averaged."""
    cfg = Config.fromfile(REPO / 'configs' / 'pafu_sad' / '_base_' / 'sad.py')
    cfg.model = dict(
        type='DenseRegressor',
        network=dict(type='SingleLayer', conv_cfg=None, kernel_size=3))
    for loader, samples in ((cfg.train_dataloader, 4),
                            (cfg.val_dataloader, 3)):
        loader.dataset.update(num_samples=samples, size=17, grid_size=15)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 4
    if not validate:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.custom_hooks = [dict(type='EMAHook', momentum=0.5)]
    cfg.default_hooks.checkpoint.save_last = False
    cfg.launcher, cfg.work_dir = 'none', str(tmp_path)
    return build_runner(cfg)


def _mae(model, dataset) -> float:
    with torch.no_grad():
        errors = [(model(s['inputs'][None], s['target'][None])[0] -
                   s['target']).abs() for s in dataset]
    return torch.stack(errors).double().mean().item()


def test_metrics_and_weights_are_those_of_the_averaged_model(tmp_path):
    runner = _tiny_sad_runner(tmp_path)
    metrics = train_and_validate(runner)
    assert not runner.model.training
    dataset = runner.val_dataloader.dataset
    assert metrics['toy/mae'] == pytest.approx(_mae(runner.model, dataset))
    # The swap left the last iterate in the hook: it scores differently.
    ema = next(hook for hook in runner.hooks if isinstance(hook, EMAHook))
    assert _mae(ema.ema_model.module, dataset) != pytest.approx(
        metrics['toy/mae'])


def test_training_without_validation_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match='val_dataloader'):
        train_and_validate(_tiny_sad_runner(tmp_path, validate=False))
