"""Every shipped mmpretrain config trains 2 iterations, validates and tests
its checkpoint on tiny synthetic data; only data roots, sizes and loop
lengths are overridden.

mmpretrain's CIFAR datasets check the md5 of the real files, which synthetic
batches cannot pass: CIFAR configs run through a two-line child config that
also imports ``cifar_without_md5`` (upstream's classes minus that check), and
use those classes."""
import re
from pathlib import Path

import pytest
from config_e2e import (REPO, also_on_oldest_torch, checkpoint_state_dict,
                        run_tool, train_and_test)
from synthetic_datasets import write_cifar, write_imagenet

HERE = Path(__file__).resolve().parent
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')

# config -> (dataset, a parameter of the adaptive layer, its leading size)
CONFIGS = {
    # ACDA 5x5 generators predict 6 atoms x 2 scales x 6 bases
    'configs/acda_resnet/ad-resnet-s_8xb32_in1k.py':
    ('imagenet', 'backbone.layer4.1.conv2.atom_generator.predict.weight', 72),
    'configs/acda_resnet/ad-resnet-m_8xb32_in1k.py':
    ('imagenet', 'backbone.layer4.1.conv2.atom_generator.predict.weight', 72),
    'configs/acda_resnet/ad-resnet-l_8xb32_in1k.py':
    ('imagenet', 'backbone.layer4.2.conv2.atom_generator.predict.weight', 72),
    'configs/pafu_resnet/pafu-resnet50_8xb32_in1k.py':
    ('imagenet', 'backbone.layer4.0.conv2.weight', 16 * 512),
    'configs/pafu_resnet/pafu-resnet101_8xb32_in1k.py':
    ('imagenet', 'backbone.layer3.22.conv3.weight', 1024),
    'configs/pafu_resnet/pafu-resnet110_8xb16_cifar10.py':
    ('cifar10', 'backbone.layer3.0.conv1.weight', 16 * 64),
    'configs/pafu_resnet/pafu-resnet110_8xb16_cifar100.py':
    ('cifar100', 'backbone.layer3.0.conv1.weight', 16 * 64),
    'configs/pafu_resnet/resnet110_8xb16_cifar10.py':
    ('cifar10', 'backbone.layer3.0.conv1.weight', 64),
    'configs/pafu_resnet/resnet110_8xb16_cifar100.py':
    ('cifar100', 'backbone.layer3.0.conv1.weight', 64),
    'configs/acda_lenet/lenet_8xb16_cifar10.py':
    ('cifar10', 'backbone.features.3.weight', 16),
    'configs/acda_lenet/lenet_8xb16_cifar100.py':
    ('cifar100', 'backbone.classifier.5.weight', 100),
    # ACDA 5x5 generators predict 6 atoms x 2 scales x 6 bases
    'configs/acda_lenet/acda-lenet_8xb16_cifar10.py':
    ('cifar10', 'backbone.features.3.atom_generator.predict.weight', 72),
    'configs/acda_lenet/acda-lenet_8xb16_cifar100.py':
    ('cifar100', 'backbone.features.3.atom_generator.predict.weight', 72),
}


def data_options(dataset: str, root: Path) -> list:
    """Data root, batch size 2, no workers, 32x32 crops; CIFAR without the
    md5 check of the real files."""
    options = [
        f'{loader}.{key}'
        for loader in LOADERS for key in (f'dataset.data_root={root}',
                                          'batch_size=2', 'num_workers=0')
    ]
    if dataset == 'imagenet':
        write_imagenet(root)
        options += ['train_dataloader.dataset.pipeline.1.scale=32']
        options += [
            f'{loader}.dataset.pipeline.{index}.{key}=32'
            for loader in LOADERS[1:]
            for index, key in ((1, 'scale'), (2, 'crop_size'))
        ]
    else:
        num_classes = int(dataset[len('cifar'):])
        write_cifar(root, num_classes)
        options += [
            f'{loader}.dataset.dataset_type=CIFAR{num_classes}WithoutMD5'
            for loader in LOADERS
        ]
    return options


def with_cifar_without_md5(config: str, directory: Path) -> Path:
    """A child of ``config`` that also imports ``cifar_without_md5``."""
    child = directory / Path(config).name
    child.write_text(
        f'_base_ = [{str(REPO / config)!r}]\n'
        "custom_imports = dict(imports=['pafu_acda_mm.mmpretrain', "
        "'cifar_without_md5'], allow_failed_imports=False)\n")
    return child


@pytest.mark.e2e
@pytest.mark.parametrize(
    'config',
    also_on_oldest_torch(list(CONFIGS),
                         'configs/acda_resnet/ad-resnet-s_8xb32_in1k.py'))
def test_config_trains_validates_and_tests(config, tmp_path):
    dataset, key, leading_size = CONFIGS[config]
    options = data_options(dataset, tmp_path / 'data') + [
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'
    ]
    if dataset.startswith('cifar'):
        config = with_cifar_without_md5(config, tmp_path)
    run = train_and_test(config, tmp_path / 'work', options,
                         pythonpath=[HERE])

    assert 'Epoch(train) [1][2/2]' in run.train_log
    assert ('loss_decorrelation' in run.train_log) == ('pafu' in Path(
        config).name)
    assert re.search(r'Epoch\(val\) \[1\]\[2/2\]\s+accuracy/top1: ',
                     run.train_log)
    assert run.checkpoint.name == 'epoch_1.pth'
    assert re.search(r'Epoch\(test\) \[2/2\]\s+accuracy/top1: ',
                     run.test_log)
    state = checkpoint_state_dict(run.checkpoint)
    assert state[key].shape[0] == leading_size


@pytest.mark.e2e
def test_missing_data_root_stops_training_with_the_expected_layout(tmp_path):
    missing = tmp_path / 'no_cifar'
    result = run_tool('tools/train.py',
                      'configs/pafu_resnet/pafu-resnet110_8xb16_cifar10.py',
                      '--work-dir', tmp_path / 'work', '--cfg-options',
                      f'train_dataloader.dataset.data_root={missing}',
                      expect_ok=False)
    log = result.stdout + result.stderr
    assert f"FileNotFoundError: CIFAR10: '{missing}' does not exist" in log
    assert 'cifar-10-batches-py/{data_batch_1, ' in log
