"""RealSR V3 read as it ships: pairs of both cameras from one split and
scale, and an early, explicit error when a folder is missing."""
import shutil

import mmcv
import pytest
from mmengine.registry import DATASETS, init_default_scope
from restoration_datasets import write_realsr

from pafu_acda_mm.mmagic import RealSRDataset


@pytest.fixture(scope='module')
def realsr_root(tmp_path_factory):
    return write_realsr(
        tmp_path_factory.mktemp('realsr'), scales=(2, 3), per_folder=2)


@pytest.mark.parametrize('scale', [2, 3])
def test_pairs_of_both_cameras_at_one_scale(realsr_root, scale):
    dataset = RealSRDataset(scale=scale, split='Test', data_root=realsr_root)
    names = [f'{camera}_{i:03d}' for camera in ('Canon', 'Nikon')
             for i in (1, 2)]
    assert [sample['gt_path'] for sample in dataset] == [
        str(realsr_root / name.split('_')[0] / 'Test' / str(scale) /
            f'{name}_HR.png') for name in names
    ]
    for sample in dataset:
        assert sample['img_path'] == sample['gt_path'].replace(
            '_HR.png', f'_LR{scale}.png')
        assert sample['scale'] == scale
        hr, lr = mmcv.imread(sample['gt_path']), mmcv.imread(
            sample['img_path'])
        assert hr.shape == (lr.shape[0] * scale, lr.shape[1] * scale, 3)


def test_one_camera(realsr_root):
    dataset = RealSRDataset(scale=2, cameras=['Nikon'],
                            data_root=realsr_root)
    assert [s['gt_path'].rsplit('/', 1)[1] for s in dataset
            ] == ['Nikon_001_HR.png', 'Nikon_002_HR.png']


@pytest.mark.parametrize('arguments, name', [
    (dict(scale=5), 'scale'),
    (dict(scale=2, split='Val'), 'split'),
    (dict(scale=2, cameras='Canon'), 'cameras'),
    (dict(scale=2, cameras=['Sony']), 'cameras'),
])
def test_bad_arguments_are_refused_by_name(realsr_root, arguments, name):
    with pytest.raises(ValueError, match=name):
        RealSRDataset(data_root=realsr_root, **arguments)


def test_missing_folder_fails_early_with_the_layout(realsr_root, tmp_path):
    root = tmp_path / 'realsr'
    shutil.copytree(realsr_root, root)
    shutil.rmtree(root / 'Nikon' / 'Train' / '3')
    init_default_scope('mmagic')
    with pytest.raises(FileNotFoundError) as error:
        DATASETS.build(
            dict(type='CheckedDataset', dataset_type='RealSRDataset',
                 data_root=str(root), scale=3))
    message = str(error.value)
    assert repr('Nikon/Train/3')[1:-1] in message
    assert '<camera>/<split>/<scale>/<name>_HR.png' in message
    # The other scale is complete and loads through the same wrapper.
    assert len(
        DATASETS.build(
            dict(type='CheckedDataset', dataset_type='RealSRDataset',
                 data_root=str(root), scale=2))) == 4
