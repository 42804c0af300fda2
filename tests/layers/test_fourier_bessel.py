import pytest
import torch

from pafu_acda_mm.layers import (fourier_bessel_bases,
                                 multiscale_fourier_bessel_bases)
from pafu_acda_mm.layers.fourier_bessel import _fourier_bessel_numpy


def _gram(bases):
    flat = bases.flatten(1)
    return flat @ flat.t()


@pytest.mark.parametrize('size,constant,count', [(3, 2.862, 6),
                                                 (5, 4.391, 14),
                                                 (7, 6.351, 38)])
def test_dcfnet_normalisation_constant_and_count(size, constant, count):
    bases, scale = _fourier_bessel_numpy(size)
    assert scale == pytest.approx(constant, abs=1e-3)
    assert len(bases) == count <= size * size - 1
    # After the global normalisation the mean squared norm is exactly 1.
    assert (bases**2).sum(axis=(1, 2)).mean() == pytest.approx(1, abs=1e-12)


def test_first_six_bases_are_the_lowest_frequencies():
    # (k=0,q=1), (k=1,q=1) cos/sin, (k=2,q=1) cos/sin, (k=0,q=2).
    bases = fourier_bessel_bases(7)
    radially_symmetric = [0, 5]
    for i in radially_symmetric:
        b = bases[i]
        assert torch.allclose(b, b.t(), atol=1e-12)
        assert torch.allclose(b, b.flip(0), atol=1e-12)
        assert torch.allclose(b, b.rot90(1), atol=1e-12)
    # k = 1: odd under the point reflection; cos is odd in x, sin in y.
    assert torch.allclose(bases[1], -bases[1].flip(1), atol=1e-12)
    assert torch.allclose(bases[1], bases[1].flip(0), atol=1e-12)
    assert torch.allclose(bases[2], -bases[2].flip(0), atol=1e-12)
    assert torch.allclose(bases[2], bases[1].t(), atol=1e-12)
    # k = 2: even under the point reflection, 90-degree rotation negates.
    for i in (3, 4):
        assert torch.allclose(bases[i], bases[i].flip(0).flip(1), atol=1e-12)
        assert torch.allclose(bases[i].rot90(1), -bases[i], atol=1e-12)
    # the (0, 2) basis changes sign along the radius, the (0, 1) one does not.
    assert (bases[0] >= -1e-12).all()
    assert bases[5][3, 3] * bases[5][3, 0] < 0


def test_near_orthonormal_at_7x7():
    gram = _gram(fourier_bessel_bases(7))
    off_diagonal = gram - torch.diag(torch.diag(gram))
    assert off_diagonal.abs().max() < 2e-3
    # One global constant normalises them all: squared norms just under 1.
    assert ((torch.diag(gram) > 0.9) & (torch.diag(gram) < 1)).all()


def test_3x3_bases_are_not_orthonormal():
    # Sampling 6 Bessel modes on 9 pixels: DCFNet keeps them anyway.
    norms = fourier_bessel_bases(3).flatten(1).norm(dim=1)
    assert norms.min() < 0.35 and norms.max() > 1.3


def test_multiscale_bases_are_centred_with_zero_support_outside():
    bases = multiscale_fourier_bessel_bases((3, 5, 7))
    assert bases.shape == (18, 7, 7) and bases.dtype == torch.float64
    for index, size in enumerate((3, 5, 7)):
        scale = bases[6 * index:6 * (index + 1)]
        border = (7 - size) // 2
        inner = scale[:, border:7 - border, border:7 - border]
        assert torch.equal(inner, fourier_bessel_bases(size))
        assert scale.abs().sum() == pytest.approx(inner.abs().sum())


@pytest.mark.parametrize('kwargs,match', [
    (dict(kernel_size=4), 'kernel_size'),
    (dict(kernel_size=1), 'kernel_size'),
    (dict(kernel_size=3, num_bases=7), 'num_bases'),
    (dict(kernel_size=5, num_bases=0), 'num_bases'),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fourier_bessel_bases(**kwargs)
