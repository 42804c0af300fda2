"""Spatially Adaptive Dataset (SAD, PAFU paper section 3.2, fig. 2).

Uniform colour noise in (0, 1] with black pixels on a grid; the target
dilates every black pixel to a black 5x5 square and leaves all other pixels
unchanged. The optimal filter bank is a Dirac and a zero kernel, chosen per
pixel, which no single spatially shared convolution can express.
"""
import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

SQUARE = 5


def sad_grid(size: int = 89,
             grid_size: int = 87,
             spacing: int = SQUARE + 1) -> np.ndarray:
    """Candidate black-pixel coordinates along one axis.

    A lattice with step ``spacing``, centred in the image, whose points lie
    in the central ``grid_size`` band and whose 5x5 squares lie inside the
    image. ``spacing >= 5`` keeps squares from overlapping; the default 6
    also keeps a noise pixel between neighbouring squares, so every 5x5
    window holds at most one black pixel.

    Args:
        size (int): Image side. Default: 89.
        grid_size (int): Side of the central region holding the grid.
            Default: 87 (the paper's).
        spacing (int): Lattice step, >= 5. Default: 6.

    Returns:
        np.ndarray: Sorted int coordinates, the same for rows and columns.
    """
    if spacing < SQUARE:
        raise ValueError(f'spacing must be >= {SQUARE} so that squares '
                         f'never overlap, got {spacing}')
    half = SQUARE // 2
    low = max((size - grid_size) // 2, half)
    high = min(size - 1 - (size - grid_size) // 2, size - 1 - half)
    if high < low:
        raise ValueError(f'no 5x5 square fits a {grid_size} grid in a '
                         f'{size} image')
    count = (high - low) // spacing + 1
    start = low + (high - low - (count - 1) * spacing) // 2
    return start + spacing * np.arange(count)


def make_sad_sample(rng: np.random.Generator,
                    size: int = 89,
                    grid_size: int = 87,
                    spacing: int = SQUARE + 1,
                    density: float = 0.3):
    """One SAD pair.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (int): Image side. Default: 89.
        grid_size (int): Side of the central region holding the grid.
            Default: 87.
        spacing (int): Grid step (see :func:`sad_grid`). Default: 6.
        density (float): Probability that a grid point is black.
            Default: 0.3.

    Returns:
        tuple[np.ndarray, np.ndarray]: Input and target, ``(3, size, size)``
        float32. Noise in (0, 1]; black pixels and squares exactly 0.
    """
    grid = sad_grid(size, grid_size, spacing)
    image = (1 - rng.random((3, size, size))).astype(np.float32)  # (0, 1]
    target = image.copy()
    black = rng.random((len(grid), len(grid))) < density
    half = SQUARE // 2
    for row, col in zip(*np.nonzero(black)):
        y, x = grid[row], grid[col]
        image[:, y, x] = 0
        target[:, y - half:y + half + 1, x - half:x + half + 1] = 0
    return image, target


@DATASETS.register_module()
class SADDataset(Dataset):
    """Seeded SAD pairs, generated on access (nothing stored on disk).

    Sample ``i`` is drawn from ``np.random.default_rng((seed, i))``: the
    same seed gives the same set in any access order, and different seeds
    give independent sets (use one for training, another for validation).

    Args:
        num_samples (int): Number of pairs.
        seed (int): Seed of the set.
        size, grid_size, spacing, density: See :func:`make_sad_sample`.

    Items are ``dict(inputs=Tensor(3, H, W), target=Tensor(3, H, W))``.
    """

    def __init__(self,
                 num_samples: int,
                 seed: int,
                 size: int = 89,
                 grid_size: int = 87,
                 spacing: int = SQUARE + 1,
                 density: float = 0.3):
        sad_grid(size, grid_size, spacing)  # validate now, not at access
        self.num_samples = num_samples
        self.seed = seed
        self.sample_cfg = dict(
            size=size, grid_size=grid_size, spacing=spacing, density=density)

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.num_samples:
            raise IndexError(index)
        rng = np.random.default_rng((self.seed, index))
        image, target = make_sad_sample(rng, **self.sample_cfg)
        return dict(
            inputs=torch.from_numpy(image), target=torch.from_numpy(target))
