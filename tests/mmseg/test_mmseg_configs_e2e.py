"""Every shipped mmseg config trains 2 iterations, validates and tests its
checkpoint on a tiny synthetic ADE20K; only data roots, sizes (crops, head
widths) and loop lengths are overridden, and the ImageNet-pretrained
backbone is off."""
import re

import pytest
from config_e2e import (also_on_oldest_torch, checkpoint_state_dict,
                        run_tool, train_and_test)
from synthetic_datasets import write_ade20k

CONFIGS = [
    'configs/pafu_pspnet/pafu-pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
    'configs/pafu_pspnet/pafu-pspnet_r50-d8_4xb4-160k_ade20k-512x512.py',
]
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@pytest.mark.e2e
@pytest.mark.parametrize('config', also_on_oldest_torch(CONFIGS, CONFIGS[0]))
def test_config_trains_validates_and_tests(config, tmp_path):
    root = write_ade20k(tmp_path / 'ade')
    options = [
        f'{loader}.{key}' for loader in LOADERS
        for key in (f'dataset.data_root={root}', 'batch_size=2',
                    'num_workers=0', 'persistent_workers=False')
    ] + [
        'train_dataloader.dataset.pipeline.2.scale=(64,48)',
        'train_dataloader.dataset.pipeline.3.crop_size=(32,32)',
        'model.data_preprocessor.size=(32,32)',
        'val_dataloader.dataset.pipeline.1.scale=(64,48)',
        'test_dataloader.dataset.pipeline.1.scale=(64,48)',
        'model.pretrained=None', 'model.decode_head.channels=32',
        'model.auxiliary_head.channels=32', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1'
    ]
    run = train_and_test(config, tmp_path / 'work', options)
    if '80k' in config:  # the paper's multi-scale + flip test
        tta = run_tool('tools/test.py', config, run.checkpoint, '--tta',
                       '--work-dir', tmp_path / 'tta', '--cfg-options',
                       *options, 'test_dataloader.batch_size=1')
        assert re.search(r'Iter\(test\) \[4/4\]\s+aAcc: .*mIoU: ',
                         tta.stdout + tta.stderr)

    assert re.search(r'Iter\(train\) \[2/2\].*decode\.loss_ce: .*'
                     r'loss_decorrelation: ', run.train_log)
    assert re.search(r'Iter\(val\) \[2/2\]\s+aAcc: .*mIoU: ', run.train_log)
    assert run.checkpoint.name == 'iter_2.pth'
    assert re.search(r'Iter\(test\) \[2/2\]\s+aAcc: .*mIoU: ', run.test_log)
    state = checkpoint_state_dict(run.checkpoint)
    assert state['decode_head.bottleneck.conv.weight'].shape == (8 * 32,
                                                                 2048 + 4 * 32,
                                                                 3, 3)
