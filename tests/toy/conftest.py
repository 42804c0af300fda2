from pathlib import Path

import pytest
from mmengine.config import Config

from pafu_acda_mm.engine import build_runner
from pafu_acda_mm.toy import train_and_validate

REPO = Path(__file__).resolve().parents[2]


def _train(config: str, work_dir: Path, iters: int):
    """Train ``configs/<config>`` for ``iters`` iterations through the
    Runner; return the runner (model in eval mode with the validated
    weights) and its final validation metrics."""
    cfg = Config.fromfile(REPO / 'configs' / config)
    cfg.launcher = 'none'
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.save_last = False
    runner = build_runner(cfg)
    return runner, train_and_validate(runner)


@pytest.fixture
def train_toy():
    """``train_toy(config, work_dir, iters) -> (runner, metrics)``."""
    return _train
