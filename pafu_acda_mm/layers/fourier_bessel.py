"""Fourier-Bessel filter bases (DCFNet construction), single- and multi-scale.

A basis of support ``L x L`` (``L = 2 * L1 + 1``) samples
``J_k(R_kq * r) / |J_{k+1}(R_kq)|`` (times ``sqrt(2) cos(k theta)`` and
``sqrt(2) sin(k theta)`` for ``k > 0``) on the pixel grid, with ``r = 1`` at
radius ``L1 + 0.5`` and zero outside the unit disc. ``R_kq`` is the ``q``-th
positive zero of the Bessel function ``J_k``. Bases are ordered by ``R_kq``
(lowest frequency first), truncated to ``L * L - 1`` and divided by one global
constant so that their mean squared norm is 1. At ``L = 1`` the disc is one
pixel and the one basis is the constant ``J_0(0) = 1``.

Orientation: rows are ``y`` (pointing down), columns are ``x``, and
``theta = atan2(y, x)``. The ACDA authors' public port uses the transposed
convention; both are valid basis sets, weights are not interchangeable.
"""
import functools
import math
from typing import Tuple

import numpy as np
import torch
from scipy import special

_MAX_ANGULAR_FREQUENCY = 15


def _check_odd_size(name: str, size: int) -> None:
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f'{name} must be an odd positive int, got {size!r}')


def _bessel_candidates(radius: float, freq_factor: float) -> list:
    """``(R_kq, k)`` pairs kept by the DCFNet frequency cut, sorted by R_kq.

    A pair is kept when the next zero ``R_k,q+1`` is at most
    ``pi * radius * freq_factor``.
    """
    bound = math.pi * radius * freq_factor
    candidates = []
    for k in range(_MAX_ANGULAR_FREQUENCY + 1):
        num_zeros = 1
        while special.jn_zeros(k, num_zeros)[-1] <= bound:
            num_zeros += 1
        zeros = special.jn_zeros(k, num_zeros)
        # zeros[q] is R_k,q+1; keep R_kq whose successor is within the bound.
        candidates += [(zeros[q], k) for q in range(num_zeros - 1)
                       if zeros[q + 1] <= bound]
    return sorted(candidates)


@functools.lru_cache(maxsize=None)
def _fourier_bessel_numpy(kernel_size: int) -> Tuple[np.ndarray, float]:
    """All kept bases ``(K, L, L)``, normalised, and the constant divided out."""
    if kernel_size == 1:
        return np.ones((1, 1, 1)), 1.0
    half = kernel_size // 2
    radius = half + 0.5
    freq_factor = 2.0 if half < 2 else 1.5
    coords = np.arange(-half, half + 1) / radius
    y, x = np.meshgrid(coords, coords, indexing='ij')
    r = np.hypot(x, y)
    theta = np.arctan2(y, x)
    outside = r >= 1

    bases = []
    for zero, k in _bessel_candidates(radius, freq_factor):
        radial = special.jv(k, zero * r) / abs(special.jv(k + 1, zero))
        radial[outside] = 0
        if k == 0:
            bases.append(radial)
        else:
            bases.append(radial * np.cos(k * theta) * math.sqrt(2))
            bases.append(radial * np.sin(k * theta) * math.sqrt(2))
    bases = np.stack(bases[:kernel_size * kernel_size - 1])
    scale = float(np.sqrt((bases**2).sum(axis=(1, 2)).mean()))
    return bases / scale, scale


def fourier_bessel_bases(kernel_size: int, num_bases: int = 6) -> torch.Tensor:
    """The first ``num_bases`` Fourier-Bessel bases of one support size.

    Args:
        kernel_size (int): Odd support size ``L`` (1: the constant).
        num_bases (int): How many bases to keep, lowest frequency first.
            Default: 6.

    Returns:
        Tensor: float64 tensor of shape ``(num_bases, L, L)``.
    """
    _check_odd_size('kernel_size', kernel_size)
    bases, _ = _fourier_bessel_numpy(kernel_size)
    if not 1 <= num_bases <= len(bases):
        raise ValueError(f'num_bases must be in [1, {len(bases)}] for '
                         f'kernel_size={kernel_size}, got {num_bases}')
    return torch.from_numpy(bases[:num_bases].copy())


def multiscale_fourier_bessel_bases(scales, num_bases: int = 6) -> torch.Tensor:
    """Fourier-Bessel bases at several scales, centred in the largest support.

    Args:
        scales (Sequence[int]): Odd support sizes, e.g. ``(3, 5, 7)``.
        num_bases (int): Bases per scale. Default: 6.

    Returns:
        Tensor: float64 tensor of shape ``(len(scales) * num_bases, L, L)``
        with ``L = max(scales)``; scale ``s`` occupies rows
        ``s * num_bases:(s + 1) * num_bases`` and is zero outside its
        centred ``scales[s] x scales[s]`` window.
    """
    size = max(scales)
    padded = []
    for scale in scales:
        border = (size - scale) // 2
        padded.append(torch.nn.functional.pad(
            fourier_bessel_bases(scale, num_bases), [border] * 4))
    return torch.cat(padded)
