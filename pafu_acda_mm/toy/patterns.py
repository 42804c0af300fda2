"""Multi-scale pattern detection (ACDA paper section 3.3, fig. 6).

A noisy map with patterns of several sizes (3x3, 5x5, 7x7 by default) placed
at random; the target marks each pattern's centre with 1, all else 0. One
7x7 convolution cannot match three different patterns with one template;
per-pixel adaptive filters can. A shifted copy of the same map tests
translation equivariance.
"""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset


def pattern_template(index: int, size: int) -> np.ndarray:
    """The ``index``-th pre-defined pattern at ``size x size``.

    The shapes cycle through a plus, a diagonal cross and a square ring, so
    the default scales (3, 5, 7) get one shape each.

    Args:
        index (int): Position of the scale in the dataset's ``scales``.
        size (int): Odd side of the pattern, >= 3.

    Returns:
        np.ndarray: ``(size, size)`` float32, 1 on the pattern, 0 elsewhere.
    """
    if size < 3 or size % 2 == 0:
        raise ValueError(f'pattern size must be odd and >= 3, got {size}')
    centre = size // 2
    rows, cols = np.mgrid[:size, :size]
    shape = index % 3
    if shape == 0:
        mask = (rows == centre) | (cols == centre)
    elif shape == 1:
        mask = (rows == cols) | (rows + cols == size - 1)
    else:
        mask = ((rows == 0) | (cols == 0) | (rows == size - 1) |
                (cols == size - 1))
    return mask.astype(np.float32)


def make_pattern_sample(rng: np.random.Generator,
                        size: int = 100,
                        num_patterns: int = 25,
                        scales: Sequence[int] = (3, 5, 7),
                        noise_level: float = 0.5,
                        margin: int = 20,
                        shift: Tuple[int, int] = (0, 0)):
    """One pattern-detection pair, optionally translated.

    The map is a window of a noise canvas of side ``size + margin``; the
    patterns lie where every window shifted by ``0..margin`` sees them, so
    ``shift=(s, s)`` gives the same scene moved down-right by ``s`` pixels,
    noise included, with no pattern leaving the map. Scales are assigned
    round-robin, positions at random, at least one background pixel apart.

    Args:
        rng (np.random.Generator): Source of randomness; the same state
            gives the same scene for every ``shift``.
        size (int): Map side. Default: 100.
        num_patterns (int): Number of patterns. Default: 25.
        scales (Sequence[int]): Odd pattern sizes. Default: (3, 5, 7).
        noise_level (float): Background noise is uniform in
            ``[0, noise_level)``; pattern pixels are 1. Default: 0.5.
        margin (int): Largest shift the scene supports. Default: 20.
        shift (tuple[int, int]): Translation ``(down, right)`` in
            ``[0, margin]``. Default: (0, 0).

    Returns:
        tuple[np.ndarray, np.ndarray]: Input and target, ``(1, size,
        size)`` float32; the target is 1 at the ``num_patterns`` centres.
    """
    if not all(0 <= s <= margin for s in shift):
        raise ValueError(f'shift must be in [0, {margin}], got {shift}')
    canvas_size = size + margin
    canvas = (noise_level * rng.random(
        (canvas_size, canvas_size))).astype(np.float32)
    centres = np.zeros((canvas_size, canvas_size), np.float32)
    occupied = np.zeros((canvas_size, canvas_size), bool)
    for index in range(num_patterns):
        scale_index = index % len(scales)
        template = pattern_template(scale_index, scales[scale_index])
        half = template.shape[0] // 2
        for _ in range(10000):
            y, x = rng.integers(margin + half, size - half, size=2)
            # One background pixel at least between patterns.
            if not occupied[max(y - half - 1, 0):y + half + 2,
                            max(x - half - 1, 0):x + half + 2].any():
                break
        else:
            raise ValueError(f'{num_patterns} patterns do not fit a '
                             f'{size - margin} square')
        box = (slice(y - half, y + half + 1), slice(x - half, x + half + 1))
        occupied[box] = True
        canvas[box][template > 0] = 1
        centres[y, x] = 1
    window = (slice(margin - shift[0], margin - shift[0] + size),
              slice(margin - shift[1], margin - shift[1] + size))
    return canvas[window][None].copy(), centres[window][None].copy()


@DATASETS.register_module()
class PatternDetectionDataset(Dataset):
    """A seeded pattern-detection scene, generated in memory.

    The paper trains on one map; ``num_samples`` maps are drawn from
    ``np.random.default_rng((seed, i))``, and ``shift`` moves every one of
    them (the equivariance test: same seed, ``shift=(20, 20)``).

    Args:
        seed (int): Seed of the scene(s).
        num_samples (int): Number of maps. Default: 1 (the paper's).
        **sample_cfg: Arguments of :func:`make_pattern_sample` (``size``,
            ``num_patterns``, ``scales``, ``noise_level``, ``margin``,
            ``shift``).

    Items are ``dict(inputs=Tensor(1, H, W), target=Tensor(1, H, W))``.
    """

    def __init__(self, seed: int, num_samples: int = 1, **sample_cfg):
        if 'shift' in sample_cfg:
            sample_cfg['shift'] = tuple(sample_cfg['shift'])
        self.samples = [
            make_pattern_sample(
                np.random.default_rng((seed, index)), **sample_cfg)
            for index in range(num_samples)
        ]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        image, target = self.samples[index]
        return dict(
            inputs=torch.from_numpy(image), target=torch.from_numpy(target))
