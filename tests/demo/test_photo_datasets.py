"""The photograph datasets are read by the configs' own mmagic datasets:
DIV2K sub-images with their bicubic LR, a Set5-layout test set and
SIDD-layout noisy pairs, from photographs that ship inside installed
packages."""
import re
from pathlib import Path

import numpy as np
import pytest
from config_e2e import REPO, run_tool
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope
from PIL import Image

import pafu_acda_mm.mmagic  # noqa: F401  registers CheckedDataset
from pafu_acda_mm.mmagic.photo_datasets import (
    DENOISING_META_FILE, PHOTO_FILES, TEST_PHOTOS, TRAIN_PHOTOS,
    bicubic_downsample, poisson_gaussian_noise, read_photo,
    write_denoising_set, write_photo_datasets, write_sr_test_set,
    write_sr_training_set)

SR_CONFIG = REPO / 'configs/pafu_sr/espcn_x3_1xb16-300k_div2k.py'
SIDD_CONFIG = REPO / 'configs/acda_sidd/plain-net_1xb16-300k_sidd.py'


def read(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def as_hwc(chw_tensor) -> np.ndarray:
    return chw_tensor.permute(1, 2, 0).numpy()


def pil_bicubic(hr: np.ndarray, scale: int) -> np.ndarray:
    """PIL's antialiased bicubic reduction: an independent imresize."""
    height, width = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize(
        (width // scale, height // scale), Image.BICUBIC))


def test_every_photo_ships_with_its_package_and_splits_are_disjoint():
    for name in PHOTO_FILES:
        photo = read_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3
        assert photo.shape[2] == 3 and min(photo.shape[:2]) >= 256
    assert not set(TRAIN_PHOTOS) & set(TEST_PHOTOS)
    assert set(TRAIN_PHOTOS) | set(TEST_PHOTOS) == set(PHOTO_FILES)


def test_unknown_photo_and_shared_photos_are_refused(tmp_path):
    with pytest.raises(ValueError, match="photo must be one of .*'zebra'"):
        read_photo('zebra')
    with pytest.raises(ValueError, match=r"different photographs.*'ihc'"):
        write_photo_datasets(tmp_path, 3, train_photos=('ihc', ),
                             test_photos=('ihc', 'coffee'))


def test_bicubic_downsample_is_imresize():
    hr = read_photo('chelsea')[:120, :150]
    lr = bicubic_downsample(hr, 3)
    assert lr.shape == (40, 50, 3) and lr.dtype == np.uint8
    # MATLAB's and PIL's kernels differ only in rounding and borders.
    difference = np.abs(lr.astype(int) - pil_bicubic(hr, 3))[2:-2, 2:-2]
    assert difference.max() <= 3 and difference.mean() < 0.5
    with pytest.raises(ValueError, match='multiple of scale=3'):
        bicubic_downsample(hr[:119], 3)


def test_sr_training_set_is_read_by_the_configs_dataset(tmp_path):
    root = write_sr_training_set(tmp_path, 3, photos=('chelsea', 'ihc'),
                                 tile_size=150)
    cfg = Config.fromfile(str(SR_CONFIG))
    init_default_scope('mmagic')
    loading = cfg.train_dataloader.dataset.pipeline[:2]
    dataset = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(root),
             pipeline=loading + [dict(type='PackInputs')]))
    # chelsea is 300x451 (2x3 tiles), ihc 512x512 (3x3).
    assert len(dataset) == 6 + 9
    sample = dataset[7]
    gt_path = Path(sample['data_samples'].gt_path)
    assert gt_path == root / 'DIV2K_train_HR_sub' / 'ihc_s002.png'
    assert Path(sample['data_samples'].img_path) == (
        root / 'DIV2K_train_LR_bicubic' / 'X3_sub' / 'ihc_s002.png')
    hr = as_hwc(sample['data_samples'].gt_img)
    lr = as_hwc(sample['inputs'])
    assert hr.shape == (150, 150, 3) and lr.shape == (50, 50, 3)
    # The second tile of the first row of the photograph, and its bicubic.
    np.testing.assert_array_equal(hr, read_photo('ihc')[:150, 150:300])
    np.testing.assert_array_equal(lr, bicubic_downsample(hr, 3))

    # The configs' own pipeline: random paired crops of EDSR's patch.
    patch_dataset = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(root)))
    patch = patch_dataset[0]
    assert patch['inputs'].shape == (3, 48, 48)
    assert patch['data_samples'].gt_img.shape == (3, 144, 144)


def test_sr_test_set_is_read_as_set5(tmp_path):
    root = write_sr_test_set(tmp_path / 'Photos', 3, max_size=100)
    cfg = Config.fromfile(str(SR_CONFIG))
    init_default_scope('mmagic')
    dataset = DATASETS.build(
        dict(cfg.test_dataloader[0].dataset, data_root=str(root)))
    assert len(dataset) == len(TEST_PHOTOS)
    for sample in dataset:
        name = Path(sample['data_samples'].gt_path).stem
        assert Path(sample['data_samples'].img_path) == (
            root / 'LRbicx3' / f'{name}.png')
        hr = as_hwc(sample['data_samples'].gt_img)
        assert hr.shape == (96, 96, 3)  # 100 cut to a multiple of 12
        photo = read_photo(name)
        top, left = (photo.shape[0] - 96) // 2, (photo.shape[1] - 96) // 2
        np.testing.assert_array_equal(hr,
                                      photo[top:top + 96, left:left + 96])
        np.testing.assert_array_equal(as_hwc(sample['inputs']),
                                      bicubic_downsample(hr, 3))


def test_denoising_pairs_are_read_by_the_sidd_config(tmp_path):
    root = write_denoising_set(tmp_path / 'train', ('chelsea', ), seed=0,
                               tile_size=120)
    cfg = Config.fromfile(str(SIDD_CONFIG))
    init_default_scope('mmagic')
    dataset = DATASETS.build(
        dict(cfg.val_dataloader.dataset, data_root=str(root)))
    assert len(dataset) == 6
    names = set()
    for sample in dataset:
        data_sample = sample['data_samples']
        name = Path(data_sample.gt_path).name[:-len('_GT.png')]
        names.add(name)
        assert Path(data_sample.gt_path).parent == root / 'gt'
        assert Path(data_sample.img_path) == (root / 'noisy' /
                                              f'{name}_NOISY.png')
        clean, noisy = as_hwc(data_sample.gt_img), as_hwc(sample['inputs'])
        assert clean.shape == noisy.shape == (120, 120, 3)
        # Tiles row by row: chelsea is 300x451, 2x3 tiles.
        row, col = divmod(int(name[-3:]) - 1, 3)
        np.testing.assert_array_equal(
            clean, read_photo('chelsea')[120 * row:120 * (row + 1),
                                         120 * col:120 * (col + 1)])
        assert 3 < np.abs(noisy.astype(int) - clean).mean() < 30
    assert names == {f'chelsea_s{index:03d}' for index in range(1, 7)}

    # With the meta file, the pairs come in writing order whatever order
    # the file system lists the folder in (which changes a seed's batches).
    listed = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(root),
             ann_file=DENOISING_META_FILE, pipeline=[]))
    assert [Path(listed.get_data_info(index)['gt_path']).name
            for index in range(len(listed))] == [
                f'chelsea_s{index:03d}_GT.png' for index in range(1, 7)]


def test_noise_variance_grows_with_the_signal():
    rng = np.random.default_rng(0)
    shot, read_std = 0.01, 0.02
    for level in (40, 128, 200):
        clean = np.full((200, 200, 3), level, np.uint8)
        residual = (poisson_gaussian_noise(clean, rng, shot, read_std) -
                    clean.astype(float)) / 255
        expected = shot * level / 255 + read_std**2
        assert residual.var() == pytest.approx(expected, rel=0.05)
        assert abs(residual.mean()) < 0.005


