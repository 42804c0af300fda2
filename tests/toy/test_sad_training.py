import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pafu_acda_mm.toy import is_papers_kernel_pair

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_demo_config_trains_through_the_runner_and_lowers_the_loss(tmp_path):
    result = subprocess.run([
        sys.executable, 'tools/train.py', 'configs/pafu_sad/pafu_sad.py',
        '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_iters=60',
        'train_cfg.val_interval=60', 'default_hooks.logger.interval=10',
        'default_hooks.checkpoint.interval=60',
        'train_dataloader.dataset.num_samples=16'
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    scalars = [
        json.loads(line)
        for line in next(tmp_path.glob('*/vis_data/scalars.json')).open()
    ]
    train_logs = [s for s in scalars if 'loss' in s]
    assert train_logs[-1]['iter'] == 60 and len(train_logs) >= 6
    assert all('loss_decorrelation' in s for s in train_logs)
    assert train_logs[-1]['loss_l1'] < 0.8 * train_logs[0]['loss_l1']
    assert any('toy/mae' in s for s in scalars)
    assert (tmp_path / 'iter_60.pth').exists()


@pytest.mark.e2e
def test_jointly_trained_pafu_learns_the_papers_kernels_and_the_task(
        tmp_path, train_toy):
    # Kernels and selector learned together from the default init, the
    # demo's budget and recipe (seeded): PAFU paper fig. 2, a Dirac and a
    # ~zero kernel, routed well enough to remove most of the error of the
    # identity map (the best single kernel, as most pixels keep their value).
    pafu, metrics = train_toy('pafu_sad/pafu_sad.py', tmp_path, 1000)
    assert is_papers_kernel_pair(pafu.model.network.conv)
    dataset = pafu.val_dataloader.dataset
    identity_mae = torch.stack([(s['inputs'] - s['target']).abs()
                                for s in dataset]).mean().item()
    assert metrics['toy/mae'] < 0.25 * identity_mae
