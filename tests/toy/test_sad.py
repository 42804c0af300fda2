import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.toy import SADDataset, make_sad_sample, sad_grid


def black_pixels(image: torch.Tensor) -> torch.Tensor:
    return (image == 0).all(dim=0)


def test_grid_lies_in_the_central_87x87_and_keeps_squares_inside():
    grid = sad_grid(89, 87, 6)
    assert grid.tolist() == list(range(2, 87, 6))
    assert grid.min() >= 1 and grid.max() <= 87  # the central 87x87
    assert grid.min() - 2 >= 0 and grid.max() + 2 <= 88  # 5x5 inside
    assert np.diff(sad_grid(89, 87, 5)).min() == 5
    with pytest.raises(ValueError, match='spacing'):
        sad_grid(89, 87, 4)


@pytest.mark.parametrize('spacing', [5, 6, 9])
def test_target_is_the_exact_5x5_dilation_and_squares_never_overlap(spacing):
    dataset = SADDataset(8, seed=3, spacing=spacing, density=0.5)
    for index in range(len(dataset)):
        item = dataset[index]
        image, target = item['inputs'], item['target']
        black = black_pixels(image)
        assert black.sum() > 0
        # Every black pixel on the grid, squares disjoint: spacing >= 5.
        rows, cols = torch.nonzero(black, as_tuple=True)
        grid = torch.from_numpy(sad_grid(89, 87, spacing))
        assert torch.isin(rows, grid).all() and torch.isin(cols, grid).all()
        counts = F.conv2d(
            black[None, None].float(), torch.ones(1, 1, 5, 5), padding=2)[0, 0]
        assert counts.max() == 1  # no pixel in two squares
        dilated = counts > 0
        assert torch.equal(target[:, dilated],
                           torch.zeros_like(target[:, dilated]))
        assert torch.equal(target[:, ~dilated], image[:, ~dilated])
        assert (target == 0).all(dim=0).sum() == 25 * len(rows)


def test_noise_is_uniform_in_the_half_open_unit_interval():
    image = SADDataset(4, seed=0)[0]['inputs']
    noise = image[:, ~black_pixels(image)]
    assert noise.dtype == torch.float32
    assert noise.min() > 0 and noise.max() <= 1
    assert abs(noise.mean().item() - 0.5) < 0.01
    assert abs(noise.std().item() - 12**-0.5) < 0.01


def test_samples_are_a_function_of_seed_and_index_only():
    a, b = SADDataset(5, seed=7), SADDataset(5, seed=7)
    assert torch.equal(a[4]['inputs'], b[4]['inputs'])
    assert torch.equal(a[2]['target'], SADDataset(3, seed=7)[2]['target'])
    assert not torch.equal(a[0]['inputs'], a[1]['inputs'])
    assert not torch.equal(a[0]['inputs'], SADDataset(1, seed=8)[0]['inputs'])
    with pytest.raises(IndexError):
        a[5]


def test_density_sets_the_share_of_black_grid_points():
    rng = np.random.default_rng(0)
    sites = len(sad_grid())**2
    blacks = [(make_sad_sample(rng, density=0.3)[0] == 0).all(0).sum()
              for _ in range(20)]
    assert abs(np.mean(blacks) / sites - 0.3) < 0.03
