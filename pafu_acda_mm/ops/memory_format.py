"""Memory formats: which one a tensor has, and a (zero-padded) channels-last
copy whose gradient comes back in the original format.

The layers run their convolutions channels-last. Autograd returns the
gradient of ``x.contiguous(memory_format=torch.channels_last)`` channels-last
too, so the layer before would get a channels-last gradient for its NCHW
output and run its backward on mixed formats. (In Ad-ResNet-s a BatchNorm
before each ACDA already gave NCHW gradients back, so its step time did not
change.)
"""
from typing import Tuple

import torch


def memory_format_of(tensor: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a channels-last 4-D tensor, else
    ``torch.contiguous_format``."""
    return (torch.channels_last if tensor.is_contiguous(
        memory_format=torch.channels_last) and not tensor.is_contiguous() else
            torch.contiguous_format)


def _has_aliasing_planes(x: torch.Tensor) -> bool:
    """Whether ``x`` is a CPU tensor, NCHW with channel planes a multiple of
    4 KiB apart.

    Its channels-last copy then reads addresses that share L1 cache sets,
    where per-image 2-D transposes beat PyTorch's one strided copy; other
    planes copy faster in one strided copy (docs/benchmarks.md), as do all
    planes on a GPU.
    """
    plane_bytes = x.shape[2] * x.shape[3] * x.element_size()
    return (x.device.type == 'cpu' and x.is_contiguous()
            and plane_bytes % 4096 == 0)


class _ChannelsLastCopy(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, padding):
        ctx.memory_format = memory_format_of(x)
        ctx.padding = padding
        batch, channels, height, width = x.shape
        per_image = _has_aliasing_planes(x)
        if padding == (0, 0) and not per_image:
            return x.contiguous(memory_format=torch.channels_last)
        padded = (x.new_zeros if any(padding) else x.new_empty)(
            batch, height + 2 * padding[0], width + 2 * padding[1], channels)
        interior = padded[:, padding[0]:padding[0] + height,
                          padding[1]:padding[1] + width]
        if per_image:
            planes = x.view(batch, channels, height * width)
            for image, plane in zip(interior, planes):
                # PyTorch's blocked 2-D transpose (single-threaded).
                rows = plane.t().contiguous()
                image.copy_(rows.view(height, width, channels))
        else:
            interior.copy_(x.permute(0, 2, 3, 1))
        return padded.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        pad_h, pad_w = ctx.padding
        grad = grad[..., pad_h:grad.shape[2] - pad_h,
                    pad_w:grad.shape[3] - pad_w]
        return grad.contiguous(memory_format=ctx.memory_format), None


def to_channels_last(
        x: torch.Tensor, padding: Tuple[int, int] = (0, 0)) -> torch.Tensor:
    """``x`` in channels-last memory (``x`` itself if it already is and
    ``padding`` is zero), zero-padded by ``padding``, with the gradient
    returned in ``x``'s memory format.

    Args:
        x (Tensor): ``(B, C, H, W)``.
        padding (tuple[int, int]): Zeros added on each side of H and W, in
            the same copy. Default: (0, 0).

    Returns:
        Tensor: ``(B, C, H + 2 * padding[0], W + 2 * padding[1])``,
        channels-last.
    """
    padding = tuple(padding)
    if padding == (0, 0) and x.is_contiguous(
            memory_format=torch.channels_last):
        return x
    return _ChannelsLastCopy.apply(x, padding)
