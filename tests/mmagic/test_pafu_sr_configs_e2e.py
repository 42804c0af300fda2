"""Every shipped pafu_sr config trains 2 iterations, validates on Set5 and
tests its checkpoint on Set5, Set14, B100 and Urban100, all tiny synthetic
PNG pairs in mmagic's layouts; only data roots, patch sizes, batch sizes,
workers and loop lengths are overridden."""
import re
from pathlib import Path

import pytest
from config_e2e import also_on_oldest_torch, run_tool, train_and_test
from sr_datasets import SR_TEST_SETS, write_div2k_sub, write_sr_test_set

CONFIG_DIR = Path('configs/pafu_sr')
CONFIGS = sorted(
    str(path) for path in (Path(__file__).resolve().parents[2] /
                           CONFIG_DIR).glob('*.py'))
ESPCN_X3_PAFU = next(path for path in CONFIGS
                     if path.endswith('pafu-espcn_x3_1xb16-300k_div2k.py'))
METRICS = r'PSNR: \d+\.\d+\s+.*SSIM: -?\d+\.\d+'  # untrained: SSIM < 0 too


def sr_options(root: Path, scale: int):
    """``--cfg-options`` pointing a pafu_sr config at synthetic data
    written under ``root``, with 2 training iterations."""
    write_div2k_sub(root / 'DIV2K', scale)
    options = [
        f'train_dataloader.dataset.data_root={root / "DIV2K"}',
        f'train_dataloader.dataset.pipeline.3.gt_patch_size={12 * scale}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        f'val_dataloader.dataset.data_root={root / "Set5"}',
        'val_dataloader.num_workers=0', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ]
    for index, name in enumerate(SR_TEST_SETS):
        write_sr_test_set(root / name, scale, count=1)
        options += [
            f'test_dataloader.{index}.dataset.data_root={root / name}',
            f'test_dataloader.{index}.num_workers=0'
        ]
    return options


@pytest.mark.e2e
@pytest.mark.parametrize('config',
                         also_on_oldest_torch(CONFIGS, ESPCN_X3_PAFU),
                         ids=lambda path: Path(path).stem)
def test_config_trains_validates_and_tests(config, tmp_path):
    scale = int(re.search(r'_x(\d)_', config).group(1))
    options = sr_options(tmp_path / 'data', scale)
    run = train_and_test(config, tmp_path / 'work', options)
    if 'pafu-linear-5x5_x3' in config:  # the paper's "+" rows
        plus = run_tool('tools/test.py', config, run.checkpoint, '--work-dir',
                        tmp_path / 'plus', '--cfg-options', *options,
                        'model.generator.self_ensemble=True')
        assert re.search(r'Urban100/PSNR: \d+\.\d+', plus.stdout + plus.stderr)

    losses = (r'loss: .*loss_pix: .*loss_decorrelation: '
              if '/pafu-' in config else
              r'loss: \d')
    assert re.search(r'Iter\(train\) \[2/2\].*' + losses, run.train_log)
    assert re.search(r'Iter\(val\) .*' + METRICS, run.train_log)
    assert run.checkpoint.name == 'iter_2.pth'
    for name in SR_TEST_SETS:
        assert re.search(rf'{name}/PSNR: \d+\.\d+', run.test_log), name
        assert re.search(rf'{name}/SSIM: -?\d+\.\d+', run.test_log), name
