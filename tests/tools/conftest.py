import functools
from pathlib import Path

import config_e2e
import pytest

DATA = Path(__file__).resolve().parent / 'data'


@pytest.fixture
def data_dir() -> Path:
    """Configs and modules of the tools tests."""
    return DATA


@pytest.fixture
def small_sad() -> list:
    """``--cfg-options`` that shrink the shipped SAD demo to seconds:
    32x32 images, no validation before the end, no periodic logging or
    checkpoints."""
    return [
        'train_dataloader.dataset.num_samples=16',
        'train_dataloader.dataset.size=32', 'val_dataloader.dataset.size=32',
        'val_dataloader.dataset.num_samples=4', 'train_cfg.val_interval=1000',
        'default_hooks.logger.interval=1000',
        'default_hooks.checkpoint.interval=1000'
    ]


@pytest.fixture
def run_tool():
    """:func:`config_e2e.run_tool` with the test hooks in ``data/``
    importable."""
    return functools.partial(config_e2e.run_tool, pythonpath=[DATA])
