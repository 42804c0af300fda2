"""Tiny super-resolution datasets in mmagic's on-disk layouts (PNG pairs,
LR = bicubic downsampling of HR), for tests that run the pafu_sr configs."""
from pathlib import Path
from typing import Tuple

import numpy as np
from PIL import Image

SR_TEST_SETS = ('Set5', 'Set14', 'B100', 'Urban100')


def _write_pair(hr_path: Path, lr_path: Path, scale: int,
                size: Tuple[int, int], rng: np.random.Generator) -> None:
    height, width = size
    # smooth, like natural images, so that bicubic-like SR scores 20-40 dB
    hr = Image.fromarray(
        rng.integers(0, 256, (height // 4, width // 4, 3),
                     dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    hr_path.parent.mkdir(parents=True, exist_ok=True)
    lr_path.parent.mkdir(parents=True, exist_ok=True)
    hr.save(hr_path)
    hr.resize((width // scale, height // scale), Image.BICUBIC).save(lr_path)


def write_div2k_sub(root: Path, scale: int, count: int = 2,
                    size: Tuple[int, int] = (48, 48)) -> Path:
    """DIV2K as mmagic's preprocess_div2k_dataset.py leaves it:
    ``DIV2K_train_HR_sub/0001_s001.png``,
    ``DIV2K_train_LR_bicubic/X<scale>_sub/0001_s001.png`` and
    ``meta_info_DIV2K800sub_GT.txt`` (``<name>.png (H,W,3)`` lines).

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(scale)
    lines = []
    for index in range(count):
        name = f'{index + 1:04d}_s001.png'
        _write_pair(root / 'DIV2K_train_HR_sub' / name,
                    root / 'DIV2K_train_LR_bicubic' / f'X{scale}_sub' / name,
                    scale, size, rng)
        lines.append(f'{name} ({size[0]},{size[1]},3)\n')
    (root / 'meta_info_DIV2K800sub_GT.txt').write_text(''.join(lines))
    return root


def write_sr_test_set(root: Path, scale: int, count: int = 2,
                      size: Tuple[int, int] = (24, 36)) -> Path:
    """A test set in mmagic's Set5 layout: ``GTmod12/<name>.png`` (sizes a
    multiple of 12) and ``LRbicx<scale>/<name>.png``.

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(100 + scale)
    for index in range(count):
        name = f'image_{index + 1:03d}.png'
        _write_pair(root / 'GTmod12' / name, root / f'LRbicx{scale}' / name,
                    scale, size, rng)
    return root
