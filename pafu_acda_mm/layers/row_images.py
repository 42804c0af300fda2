"""Rows as one-row channels-last images, so that a matrix product runs as a
1x1 convolution.

``rows @ W.T`` for rows ``(P, C_in)`` equals a 1x1 convolution of the image
``(1, C_in, 1, P)`` with ``W`` viewed as ``(C_out, C_in, 1, 1)``. On the CPU
oneDNN runs that convolution, forward and backward, with the CPU's widest
vector instructions, while MKL's SGEMM (what ``torch.mm`` calls) runs
AVX2 code on AMD CPUs: 2-2.4x slower there, on par on Intel's. Grouped
convolutions give grouped products.
"""
from typing import Optional, Tuple

import torch


def as_image(rows: torch.Tensor,
             pixels: Optional[Tuple[int, int, int]] = None) -> torch.Tensor:
    """Contiguous rows ``(P, C)`` as a channels-last image (a view).

    Args:
        rows (Tensor): ``(P, C)``, contiguous.
        pixels (tuple[int, int, int], optional): ``(B, H, W)`` with
            ``B * H * W = P``, the rows' pixels in order. Default:
            ``(1, 1, P)``, one row.

    Returns:
        Tensor: ``(B, C, H, W)``, channels-last.
    """
    pixels = (1, 1, rows.shape[0]) if pixels is None else pixels
    return rows.view(*pixels, rows.shape[1]).permute(0, 3, 1, 2)


def as_rows(image: torch.Tensor) -> torch.Tensor:
    """A one-row image ``(1, C, 1, P)`` as rows ``(P, C)``: a view when the
    image is channels-last, as oneDNN returns it for channels-last input."""
    return image.permute(0, 2, 3, 1).reshape(-1, image.shape[1])
