"""Rows as one-row channels-last images, so that a matrix product runs as a
1x1 convolution.

``rows @ W.T`` for rows ``(P, C_in)`` equals a 1x1 convolution of the image
``(1, C_in, 1, P)`` with ``W`` viewed as ``(C_out, C_in, 1, 1)``. On the CPU
oneDNN runs that convolution, forward and backward, with the CPU's widest
vector instructions, while MKL's SGEMM (what ``torch.mm`` calls) may run
narrower code on AMD CPUs. Grouped convolutions give grouped products.

The rows go in as a batch of one-row images of :data:`IMAGE_WIDTH` pixels
each, not as one long row: for one long row oneDNN chooses its blocking by
the row's length, which is slow at many lengths.

Where the CPU has no AVX-512, :func:`linear_rows` computes a product as a
BLAS matrix product instead (cuBLAS on GPUs): it writes the output in place
and needs no padding rows. Measurements: docs/benchmarks.md.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

# Pixels per image of :func:`as_image`'s default layout.
IMAGE_WIDTH = 64


def as_image(rows: torch.Tensor,
             pixels: Optional[Tuple[int, int, int]] = None) -> torch.Tensor:
    """Contiguous rows ``(P, C)`` as a channels-last image (a view).

    Args:
        rows (Tensor): ``(P, C)``, contiguous.
        pixels (tuple[int, int, int], optional): ``(B, H, W)`` with
            ``B * H * W = P``, the rows' pixels in order. Default:
            ``(P / IMAGE_WIDTH, 1, IMAGE_WIDTH)``, or ``(1, 1, P)`` when
            ``P`` is not a multiple of :data:`IMAGE_WIDTH`.

    Returns:
        Tensor: ``(B, C, H, W)``, channels-last.
    """
    if pixels is None:
        count = rows.shape[0]
        width = IMAGE_WIDTH if count % IMAGE_WIDTH == 0 else count
        pixels = (count // width, 1, width)
    return rows.view(*pixels, rows.shape[1]).permute(0, 3, 1, 2)


def as_rows(image: torch.Tensor) -> torch.Tensor:
    """An image ``(B, C, H, W)`` as rows ``(B * H * W, C)``: a view when the
    image is channels-last, as oneDNN returns it for channels-last input."""
    return image.permute(0, 2, 3, 1).reshape(-1, image.shape[1])


def is_onednn_preferred(device: torch.device) -> bool:
    """Whether :func:`linear_rows` runs as a oneDNN 1x1 convolution: on CPUs
    with AVX-512 (see the module docstring)."""
    return (device.type == 'cpu'
            and torch.backends.cpu.get_cpu_capability() == 'AVX512')


def linear_rows(rows: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor], groups: int,
                out: torch.Tensor) -> None:
    """``out = rows[:P] @ weight.T + bias`` per group, for ``P = len(out)``.

    Args:
        rows (Tensor): ``(P', C_in)``, contiguous, ``P' >= P``; rows beyond
            ``P`` are zero padding (a multiple of :data:`IMAGE_WIDTH` rows
            for oneDNN).
        weight (Tensor): ``(C_out, C_in / groups, 1, 1)``, any strides.
        bias (Tensor, optional): ``(C_out,)``.
        groups (int): Rows' channels are ``groups`` blocks, each multiplied
            by its block of ``C_out / groups`` weight rows.
        out (Tensor): ``(P, C_out)``, contiguous, written in place.
    """
    if groups == 1 and not is_onednn_preferred(rows.device):
        matrix = weight.view(weight.shape[0], -1).t()
        if bias is None:
            torch.mm(rows[:len(out)], matrix, out=out)
        else:
            torch.addmm(bias, rows[:len(out)], matrix, out=out)
        return
    product = F.conv2d(as_image(rows), weight, bias, groups=groups)
    out.copy_(as_rows(product)[:len(out)])
