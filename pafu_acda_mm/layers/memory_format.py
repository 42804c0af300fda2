"""Memory formats: which one a tensor has, and a channels-last copy whose
gradient comes back in the original format.

The layers run their convolutions channels-last. Autograd returns the
gradient of ``x.contiguous(memory_format=torch.channels_last)`` channels-last
too, so the layer before would get a channels-last gradient for its NCHW
output and run its backward on mixed formats. (In Ad-ResNet-s a BatchNorm
before each ACDA already gave NCHW gradients back, so its step time did not
change.)
"""
import torch


def memory_format_of(tensor: torch.Tensor) -> torch.memory_format:
    """``torch.channels_last`` for a channels-last 4-D tensor, else
    ``torch.contiguous_format``."""
    return (torch.channels_last if tensor.is_contiguous(
        memory_format=torch.channels_last) and not tensor.is_contiguous() else
            torch.contiguous_format)


class _ChannelsLastCopy(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        ctx.memory_format = memory_format_of(x)
        return x.contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous(memory_format=ctx.memory_format)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory (``x`` itself if it already is), with
    the gradient returned in ``x``'s memory format.

    Args:
        x (Tensor): ``(B, C, H, W)``.

    Returns:
        Tensor: ``(B, C, H, W)``, channels-last.
    """
    if x.is_contiguous(memory_format=torch.channels_last):
        return x
    return _ChannelsLastCopy.apply(x)
