"""Spatially Adaptive Dataset (SAD, PAFU paper section 3.2).

Uniform colour noise with isolated black pixels; the target dilates every
black pixel to a black 5x5 square and leaves all other pixels unchanged. The
optimal filter bank is a Dirac and a zero kernel, chosen per pixel, which no
spatially shared convolution can express.
"""
import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

SQUARE = 5


def make_sad_sample(rng: np.random.Generator,
                    size: int = 89,
                    spacing: int = SQUARE + 1,
                    density: float = 0.3):
    """One SAD pair.

    Black pixels are drawn from a lattice with ``spacing`` (> 5) between
    candidates, so their 5x5 squares never overlap and never touch the
    border.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (int): Image side. Default: 89.
        spacing (int): Lattice step of candidate black pixels. Default: 6.
        density (float): Probability that a candidate is black. Default: 0.3.

    Returns:
        tuple[np.ndarray, np.ndarray]: Input and target, ``(3, size, size)``
        float32; noise in (0, 1], black pixels and squares exactly 0.
    """
    if spacing <= SQUARE:
        raise ValueError(f'spacing must be > {SQUARE}, got {spacing}')
    image = (1 - rng.random((3, size, size))).astype(np.float32)  # (0, 1]
    target = image.copy()
    half = SQUARE // 2
    centres = np.arange(half, size - half, spacing)
    for y in centres:
        for x in centres:
            if rng.random() < density:
                image[:, y, x] = 0
                target[:, y - half:y + half + 1, x - half:x + half + 1] = 0
    return image, target


@DATASETS.register_module()
class SADDataset(Dataset):
    """A fixed, seeded set of SAD pairs generated in memory.

    Args:
        num_samples (int): Number of pairs.
        seed (int): Seed of the generator; the same seed gives the same set.
        size (int): Image side. Default: 89.
        density (float): Probability that a lattice site is black.
            Default: 0.3.

    Items are ``dict(inputs=Tensor(3, H, W), target=Tensor(3, H, W))``.
    """

    def __init__(self, num_samples: int, seed: int, size: int = 89,
                 density: float = 0.3):
        rng = np.random.default_rng(seed)
        self.samples = [
            make_sad_sample(rng, size=size, density=density)
            for _ in range(num_samples)
        ]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        image, target = self.samples[index]
        return dict(inputs=torch.from_numpy(image),
                    target=torch.from_numpy(target))
