"""Every shipped acda_realsr config trains 2 iterations, validates and tests
its checkpoint on a tiny synthetic RealSR V3 (both cameras, odd LR sizes);
only data roots, the patch size, batch size, workers and loop lengths are
overridden."""
import re
from pathlib import Path

import pytest
from config_e2e import REPO, train_and_test
from restoration_datasets import write_realsr
from restoration_runs import check_restoration_run

CONFIGS = sorted(
    str(path.relative_to(REPO))
    for path in (REPO / 'configs/acda_realsr').glob('*.py'))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
METRICS = r'PSNR: \d+\.\d+\s+SSIM: \d\.\d+'


def test_every_scale_has_an_acda_and_a_plain_config():
    assert [Path(config).name for config in CONFIGS] == [
        f'{net}-net_x{scale}_1xb16-300k_realsr.py'
        for net in ('acda', 'plain') for scale in (2, 3, 4)
    ]


@pytest.mark.e2e
@pytest.mark.parametrize('config', CONFIGS, ids=lambda path: Path(path).stem)
def test_config_trains_validates_and_tests(config, tmp_path):
    scale = int(re.search(r'_x(\d)_', config).group(1))
    root = write_realsr(tmp_path / 'realsr', scales=(scale, ))
    options = [
        f'{loader}.{key}' for loader in LOADERS
        for key in (f'dataset.data_root={root}', 'num_workers=0',
                    'persistent_workers=False')
    ] + [
        'train_dataloader.batch_size=2',
        f'train_dataloader.dataset.pipeline.2.gt_patch_size={8 * scale}',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ]
    run = train_and_test(config, tmp_path / 'work', options)

    check_restoration_run(run, config, METRICS)
