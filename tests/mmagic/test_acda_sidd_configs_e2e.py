"""Every shipped acda_sidd config trains 2 iterations, validates and tests
its checkpoint on a tiny synthetic SIDD in mmagic's layout (odd image
sizes); only data roots, the patch size, batch size, workers and loop
lengths are overridden."""
import shutil
from pathlib import Path

import pytest
from config_e2e import REPO, train_and_test
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope
from restoration_datasets import write_sidd
from restoration_runs import check_restoration_run

CONFIGS = sorted(
    str(path.relative_to(REPO))
    for path in (REPO / 'configs/acda_sidd').glob('*.py'))
METRICS = r'MAE: \d\.\d+\s+PSNR: \d+\.\d+\s+SSIM: \d\.\d+'


def test_an_acda_and_a_plain_config():
    assert [Path(config).name for config in CONFIGS] == [
        'acda-net_1xb16-300k_sidd.py', 'plain-net_1xb16-300k_sidd.py'
    ]


def test_missing_noisy_folder_fails_early_with_the_layout(tmp_path):
    root = write_sidd(tmp_path / 'sidd')
    shutil.rmtree(root / 'train' / 'noisy')
    cfg = Config.fromfile(REPO / CONFIGS[0])
    init_default_scope('mmagic')
    with pytest.raises(FileNotFoundError) as error:
        DATASETS.build(dict(cfg.train_dataloader.dataset,
                            data_root=str(root / 'train')))
    assert "train/noisy'" in str(error.value)
    assert 'noisy/<name>_NOISY<ext>' in str(error.value)


@pytest.mark.e2e
@pytest.mark.parametrize('config', CONFIGS, ids=lambda path: Path(path).stem)
def test_config_trains_validates_and_tests(config, tmp_path):
    root = write_sidd(tmp_path / 'sidd')
    options = [
        f'train_dataloader.dataset.data_root={root / "train"}',
        f'val_dataloader.dataset.data_root={root / "val"}',
        f'test_dataloader.dataset.data_root={root / "val"}',
        'train_dataloader.batch_size=2',
        'train_dataloader.dataset.pipeline.3.gt_patch_size=20',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ] + [
        f'{loader}.{key}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
        for key in ('num_workers=0', 'persistent_workers=False')
    ]
    run = train_and_test(config, tmp_path / 'work', options)

    check_restoration_run(run, config, METRICS)
