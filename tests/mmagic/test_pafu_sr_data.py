"""The pafu_sr configs' data path: colour order and value range from the
PNG files to the metrics, and the early error on missing data."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmagic.evaluation import Evaluator
from mmagic.evaluation.metrics.psnr import psnr
from mmagic.evaluation.metrics.ssim import ssim
from mmagic.registry import MODELS
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope
from mmengine.runner import Runner
from sr_datasets import write_div2k_sub, write_sr_test_set
from test_pafu_sr_nets import nearest_upsampling_

import pafu_acda_mm.mmagic  # noqa: F401  registers the models

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'pafu_sr'


def metrics_on_png_files(root: Path, scale: int) -> dict:
    """mmagic's PSNR and SSIM of nearest-upsampled LR files against the GT
    files, Y channel of the BGR images as read from disk."""
    scores = {'PSNR': [], 'SSIM': []}
    for gt_path in sorted((root / 'GTmod12').iterdir()):
        gt = cv2.imread(str(gt_path))
        lr = cv2.imread(str(root / f'LRbicx{scale}' / gt_path.name))
        upsampled = lr.repeat(scale, 0).repeat(scale, 1)
        for name, metric in (('PSNR', psnr), ('SSIM', ssim)):
            scores[name].append(
                metric(gt, upsampled, crop_border=scale, input_order='HWC',
                       convert_to='Y', channel_order='BGR'))
    return {name: np.mean(values) for name, values in scores.items()}


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_identity_like_model_scores_as_on_the_png_files(tmp_path, scale):
    """Config pipeline + mmagic's data preprocessor + a linear PAFU set to
    nearest upsampling + the config's Set5 evaluator give the metrics
    computed directly on the files: no BGR/RGB or range mistake."""
    root = write_sr_test_set(tmp_path / 'Set5', scale)
    cfg = Config.fromfile(
        str(CONFIG_DIR / f'pafu-linear-5x5_x{scale}_1xb16-300k_div2k.py'))
    init_default_scope('mmagic')
    loader = cfg.test_dataloader[0]
    loader.update(num_workers=0, batch_size=1)
    loader.dataset.data_root = str(root)
    dataloader = Runner.build_dataloader(loader)
    model = MODELS.build(cfg.model).eval()
    nearest_upsampling_(model.generator)
    evaluator = Evaluator(cfg.test_evaluator[0].metrics)
    evaluator.prepare_metrics(model, dataloader)
    with torch.no_grad():  # as mmagic's MultiTestLoop
        for metrics, sampler in evaluator.prepare_samplers(model, dataloader):
            for batch in sampler:
                evaluator.process(model.test_step(batch), batch, metrics)
    scores = evaluator.evaluate()

    expected = metrics_on_png_files(root, scale)
    assert 20 < expected['PSNR'] < 40  # a bicubic-like, imperfect output
    assert scores['Set5/PSNR'] == pytest.approx(expected['PSNR'], abs=1e-3)
    assert scores['Set5/SSIM'] == pytest.approx(expected['SSIM'], abs=1e-4)


def test_div2k_training_set_is_read_through_the_meta_file(tmp_path):
    write_div2k_sub(tmp_path, scale=3, count=3, size=(150, 144))
    (tmp_path / 'meta_info_DIV2K800sub_GT.txt').write_text(
        '0002_s001.png (150,144,3)\n0003_s001.png (150,144,3)\n')
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'espcn_x3_1xb16-300k_div2k.py'))
    init_default_scope('mmagic')
    dataset = DATASETS.build(
        dict(cfg.train_dataloader.dataset, data_root=str(tmp_path)))
    sample = dataset[0]
    assert len(dataset) == 2
    assert sample['data_samples'].img_path.endswith(
        'DIV2K_train_LR_bicubic/X3_sub/0002_s001.png')
    assert sample['inputs'].shape == (3, 48, 48)  # 144 / 3: EDSR's patches
    assert sample['data_samples'].gt_img.shape == (3, 144, 144)


def test_missing_lr_folder_is_named_with_the_layout(tmp_path):
    write_div2k_sub(tmp_path, scale=2)
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'pafu-srcnn_x4_1xb16-300k_div2k.py'))
    init_default_scope('mmagic')
    with pytest.raises(FileNotFoundError) as error:
        DATASETS.build(
            dict(cfg.train_dataloader.dataset, data_root=str(tmp_path)))
    message = str(error.value)
    assert message.startswith(
        f"BasicImageDataset: '{tmp_path}/DIV2K_train_LR_bicubic/X4_sub' "
        'does not exist')
    assert ('  DIV2K_train_LR_bicubic/X4_sub/<name><ext>: the \'img\' images\n'
            '  DIV2K_train_HR_sub/<name><ext>: the \'gt\' images\n'
            '  meta_info_DIV2K800sub_GT.txt: the "<name><ext>" to use'
            in message)


def test_missing_test_set_is_named(tmp_path):
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'espcn_x2_1xb16-300k_div2k.py'))
    init_default_scope('mmagic')
    with pytest.raises(FileNotFoundError,
                       match=f"BasicImageDataset: '{tmp_path}/Urban100' does "
                       'not exist'):
        DATASETS.build(
            dict(cfg.test_dataloader[3].dataset,
                 data_root=str(tmp_path / 'Urban100')))
