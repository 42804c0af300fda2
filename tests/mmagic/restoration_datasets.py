"""Tiny RealSR (version 3) and SIDD datasets in their real on-disk layouts,
as PNG pairs whose degraded image is consistent with its ground truth."""
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
from PIL import Image

REALSR_CAMERAS = ('Canon', 'Nikon')


def smooth_image(rng: np.random.Generator, height: int,
                 width: int) -> np.ndarray:
    """A natural-looking ``(height, width, 3)`` uint8 image: random colours
    on a coarse grid, bilinearly upsampled (learnable, unlike white noise)."""
    coarse = rng.integers(0, 256, (height // 4 + 2, width // 4 + 2, 3),
                          dtype=np.uint8)
    return np.array(
        Image.fromarray(coarse).resize((width, height), Image.BILINEAR))


def downsample(hr: np.ndarray, scale: int) -> np.ndarray:
    """``scale`` x ``scale`` block means, rounded: an LR image exactly
    ``scale`` times smaller than ``hr``."""
    height, width = hr.shape[0] // scale, hr.shape[1] // scale
    blocks = hr.reshape(height, scale, width, scale, 3).astype(np.float64)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def write_realsr(root: Path,
                 scales: Sequence[int] = (2, 3, 4),
                 per_folder: int = 1,
                 lr_size: Tuple[int, int] = (11, 9)) -> Path:
    """RealSR V3: ``<camera>/<split>/<scale>/<camera>_<i>_HR.png`` and
    ``_LR<scale>.png`` for both cameras, splits ``Train`` and ``Test``; the
    LR images are ``lr_size`` (odd by default), the HR ``scale`` times
    larger, the LR the HR's block means.

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(0)
    for camera in REALSR_CAMERAS:
        for split in ('Train', 'Test'):
            for scale in scales:
                folder = root / camera / split / str(scale)
                folder.mkdir(parents=True)
                for index in range(per_folder):
                    hr = smooth_image(rng, lr_size[0] * scale,
                                      lr_size[1] * scale)
                    name = f'{camera}_{index + 1:03d}'
                    Image.fromarray(hr).save(folder / f'{name}_HR.png')
                    Image.fromarray(downsample(hr, scale)).save(
                        folder / f'{name}_LR{scale}.png')
    return root


def write_sidd(root: Path, per_split: int = 2,
               size: Tuple[int, int] = (25, 23)) -> Path:
    """SIDD in mmagic's layout: ``<split>/gt/<i>_GT.png`` and
    ``<split>/noisy/<i>_NOISY.png`` for splits ``train`` and ``val``; the
    noisy image is the clean one plus Gaussian noise (sigma 10), clipped.

    Returns:
        Path: ``root``; the data roots are ``root / 'train'``, ``root /
        'val'``.
    """
    rng = np.random.default_rng(1)
    for split in ('train', 'val'):
        (root / split / 'gt').mkdir(parents=True)
        (root / split / 'noisy').mkdir()
        for index in range(per_split):
            clean = smooth_image(rng, *size)
            noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0,
                            255).round().astype(np.uint8)
            Image.fromarray(clean).save(root / split / 'gt' /
                                        f'{index}_GT.png')
            Image.fromarray(noisy).save(root / split / 'noisy' /
                                        f'{index}_NOISY.png')
    return root
