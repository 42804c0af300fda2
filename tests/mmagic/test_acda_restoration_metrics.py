"""The shipped RealSR and SIDD configs measure what the papers measure: an
identity-like network (bicubic upsampling, identity at scale 1) run through
the config's test pipeline, data preprocessor and evaluator scores exactly
the PSNR/SSIM that mmagic's metric functions give on the PNG files
themselves. Reading BGR as RGB (the Y channel weighs channels unequally) or
[0, 1] as [0, 255] would change the numbers."""
import mmcv
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from config_e2e import REPO
from mmagic.evaluation.metrics.psnr import psnr
from mmagic.evaluation.metrics.ssim import ssim
from mmengine.config import Config
from mmengine.runner import Runner
from restoration_datasets import write_realsr, write_sidd


def _bicubic(image, scale: int):
    """What the zero-residual network computes, on the raw pixel values."""
    if scale == 1:
        return image
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    upsampled = F.interpolate(tensor, scale_factor=scale, mode='bicubic')
    return upsampled[0].permute(1, 2, 0).clamp(0, 255).numpy()


@pytest.mark.parametrize('config, scale, convert_to', [
    ('configs/acda_realsr/acda-net_x3_1xb16-300k_realsr.py', 3, 'Y'),
    ('configs/acda_sidd/acda-net_1xb16-300k_sidd.py', 1, None),
])
def test_identity_like_net_scores_the_psnr_of_the_files(
        tmp_path, config, scale, convert_to):
    if scale == 1:
        data_root = write_sidd(tmp_path / 'sidd') / 'val'
    else:
        data_root = write_realsr(tmp_path / 'realsr', scales=(scale, ))
    cfg = Config.fromfile(REPO / config)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.data_root = str(data_root)
    cfg.model.generator.update(
        mid_channels=16, bottleneck_channels=8, num_blocks=1)
    cfg.work_dir = str(tmp_path / 'work')
    # mmagic's visualization hook asks for runner.iter, which builds the
    # training loop and its dataset.
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    output_conv = runner.model.generator.tail[-1]
    nn.init.zeros_(output_conv.weight)
    nn.init.zeros_(output_conv.bias)
    runner.test()  # mmagic's MultiTestLoop returns None
    metrics = {
        name: runner.message_hub.get_scalar(f'test/{name}').current()
        for name in ('PSNR', 'SSIM')
    }

    gt_paths = sorted(data_root.rglob('*_GT.png' if scale == 1 else
                                      f'Test/{scale}/*_HR.png'))
    assert len(gt_paths) == 2
    expected_psnr, expected_ssim = [], []
    for gt_path in gt_paths:
        gt = mmcv.imread(gt_path)  # BGR uint8, as the files store it
        degraded_path = (
            gt_path.parent.parent / 'noisy' /
            gt_path.name.replace('_GT', '_NOISY') if scale == 1 else
            gt_path.with_name(gt_path.name.replace('_HR', f'_LR{scale}')))
        pred = _bicubic(mmcv.imread(degraded_path), scale)
        kwargs = dict(crop_border=scale if convert_to else 0,
                      input_order='HWC', convert_to=convert_to,
                      channel_order='BGR')
        expected_psnr.append(psnr(gt, pred, **kwargs))
        expected_ssim.append(ssim(gt, pred, **kwargs))
    assert metrics['PSNR'] == pytest.approx(
        sum(expected_psnr) / 2, abs=1e-3)
    assert metrics['SSIM'] == pytest.approx(
        sum(expected_ssim) / 2, abs=1e-4)
    assert 15 < metrics['PSNR'] < 45  # a real comparison, not inf or nan
