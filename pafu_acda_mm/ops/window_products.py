"""PAFU's forward products fused in C++ on the CPU (csrc/window_products.cpp).

For every output pixel, ``W[index[p]] @ window(p) + b[index[p]]``: pixels
sorted by kernel, each thread gathers blocks of :data:`BLOCK_PIXELS` windows
of one kernel into its own cache-sized buffer, multiplies them by BLAS and
writes the results in pixel order: no window matrix in memory, no sort of
the outputs. Long windows run faster as one multi-threaded product over many
windows, hence :func:`can_fuse_window_products` up to :data:`MAX_WINDOW`
elements (measurements: docs/benchmarks.md).

The extension compiles on first use (~40 s, needs a C++ compiler and
ninja, both in the project's environment) into torch's extension cache
(``TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``) and
recompiles when its source changes.
"""
import functools
import os
from typing import Optional

import torch

# Windows gathered at once per thread: at 64 channels, 3x3, 288 KiB of fp32,
# which fits a core's L2 cache.
BLOCK_PIXELS = 128
# Longest window (k * k * C_in elements) that runs fused (see above).
MAX_WINDOW = 2048
_SOURCE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), 'csrc', 'window_products.cpp')


@functools.cache
def _extension():
    from torch.utils.cpp_extension import load

    # at::parallel_for is OpenMP in torch's CPU builds.
    return load('pafu_acda_mm_window_products', [_SOURCE],
                extra_cflags=['-O3', '-fopenmp'])


def can_fuse_window_products(x: torch.Tensor, window: int, groups: int) -> bool:
    """Whether :func:`window_products` computes the forward of a selected
    conv of ``x`` with windows of ``window`` elements: fp32/fp64 CPU
    tensors, one group, ``window <= MAX_WINDOW``."""
    return (x.device.type == 'cpu'
            and x.dtype in (torch.float32, torch.float64) and groups == 1
            and window <= MAX_WINDOW)


def window_products(rows: torch.Tensor, base: torch.Tensor,
                    taps: torch.Tensor, index: torch.Tensor,
                    weight: torch.Tensor,
                    bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``out[p] = weight[index[p]] @ window(p) + bias[index[p]]``, where
    ``window(p)`` concatenates ``rows[base[p] + taps[t]]`` over taps ``t``.

    Args:
        rows (Tensor): ``(R, C)``, contiguous: the padded channels-last
            input's pixels.
        base (Tensor): int64 ``(P,)``, the first row of each output pixel's
            window.
        taps (Tensor): int64 ``(T,)``, each tap's row offset from the first.
        index (Tensor): int64 ``(P,)`` in ``[0, n)``, each pixel's kernel.
        weight (Tensor): ``(n, C_out, T * C)``, tap-major, channel-minor.
        bias (Tensor, optional): ``(n, C_out)``.

    Returns:
        Tensor: ``(P, C_out)``, row ``p`` the output of pixel ``p``.
    """
    return _extension().window_products(
        rows, base.contiguous(), taps.contiguous(), index.contiguous(),
        weight.contiguous(), None if bias is None else bias.contiguous(),
        BLOCK_PIXELS)
