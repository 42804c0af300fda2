import importlib

import pytest
from mmengine.registry import DATASETS, DefaultScope
from synthetic_datasets import IMAGENET_CLASSES, write_ade20k, write_imagenet

from pafu_acda_mm.engine.checked_dataset import CheckedDataset


def build(scope, **cfg):
    importlib.import_module(f'{scope}.datasets')  # registers the datasets
    with DefaultScope.overwrite_default_scope(scope):
        return DATASETS.build(dict(type='CheckedDataset', **cfg))


def test_missing_data_root_names_it_and_the_cifar_layout(tmp_path):
    root = tmp_path / 'cifar10'
    with pytest.raises(FileNotFoundError) as error:
        build('mmpretrain', dataset_type='CIFAR10', data_root=str(root),
              split='train')
    message = str(error.value)
    assert message.startswith(f"CIFAR10: '{root}' does not exist")
    assert ('cifar-10-batches-py/{data_batch_1, data_batch_2, data_batch_3, '
            'data_batch_4, data_batch_5, test_batch, batches.meta}'
            in message)
    assert 'cifar-10-python.tar.gz' in message
    assert 'train_dataloader.dataset.data_root=<path>' in message


def test_missing_file_under_an_existing_root_is_named(tmp_path):
    (tmp_path / 'cifar-100-python').mkdir()
    (tmp_path / 'cifar-100-python' / 'train').touch()
    with pytest.raises(FileNotFoundError,
                       match=f"CIFAR100: '{tmp_path}/cifar-100-python/test' "
                       'does not exist'):
        build('mmpretrain', dataset_type='CIFAR100', data_root=str(tmp_path))


def test_imagenet_split_folder_and_annotation_file(tmp_path):
    write_imagenet(tmp_path)
    train = build('mmpretrain', dataset_type='ImageNet',
                  data_root=str(tmp_path), split='train')
    val = build('mmpretrain', dataset_type='ImageNet',
                data_root=str(tmp_path), split='val')
    assert type(train).__name__ == type(val).__name__ == 'ImageNet'
    assert [train.get_data_info(i)['gt_label'] for i in range(4)] == [
        0, 0, 1, 1
    ]
    assert [val.get_data_info(i)['gt_label'] for i in range(4)] == [
        0, 0, 1, 1
    ]
    assert IMAGENET_CLASSES[0] in train.get_data_info(0)['img_path']
    with pytest.raises(FileNotFoundError) as error:
        build('mmpretrain', dataset_type='ImageNet', data_root=str(tmp_path),
              split='val', ann_file='meta/missing.txt')
    assert f"'{tmp_path}/meta/missing.txt' does not exist" in str(error.value)
    assert '<split>/<class>/<image>' in str(error.value)


def test_ade20k_checks_both_folders_of_its_data_prefix(tmp_path):
    write_ade20k(tmp_path)
    prefix = dict(img_path='images/validation',
                  seg_map_path='annotations/validation')
    dataset = build('mmseg', dataset_type='ADE20KDataset',
                    data_root=str(tmp_path), data_prefix=prefix)
    assert type(dataset).__name__ == 'ADE20KDataset' and len(dataset) == 4
    with pytest.raises(FileNotFoundError) as error:
        build('mmseg', dataset_type='ADE20KDataset', data_root=str(tmp_path),
              data_prefix=dict(prefix, seg_map_path='annotations/val'))
    assert f"'{tmp_path}/annotations/val' does not exist" in str(error.value)
    assert ('annotations/val/<name><seg_map_suffix>: their label maps'
            in str(error.value))


def test_unknown_dataset_type_is_named(tmp_path):
    with pytest.raises(KeyError, match="'Nope' is not registered in the "
                       "'mmseg' scope"):
        build('mmseg', dataset_type='Nope', data_root=str(tmp_path))


def test_registered_in_the_root_registry():
    assert DATASETS.get('CheckedDataset') is CheckedDataset
