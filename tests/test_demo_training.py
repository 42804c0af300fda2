import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_demo_config_trains_through_the_runner_and_lowers_the_loss(tmp_path):
    result = subprocess.run(
        [
            sys.executable, 'tools/train.py', 'configs/toy/sad_pafu_demo.py',
            '--work-dir', str(tmp_path), '--cfg-options',
            'train_cfg.max_iters=60', 'train_cfg.val_interval=60',
            'default_hooks.logger.interval=10',
            'default_hooks.checkpoint.interval=60',
            'train_dataloader.dataset.num_samples=16'
        ],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    scalars = [
        json.loads(line)
        for line in next(tmp_path.glob('*/vis_data/scalars.json')).open()
    ]
    train = [s for s in scalars if 'loss' in s]
    assert train[-1]['iter'] == 60 and len(train) >= 6
    assert all('loss_decorrelation' in s for s in train)
    assert train[-1]['loss_l1'] < 0.8 * train[0]['loss_l1']
    assert any('toy/mae' in s for s in scalars)
    assert (tmp_path / 'iter_60.pth').exists()
