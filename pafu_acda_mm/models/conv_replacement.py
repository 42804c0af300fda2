"""Build an adaptive conv (PAFU, ACDA, any ``conv_cfg``) in the place of an
existing convolution of an upstream model."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import build_conv_layer


def build_conv_like(conv: nn.Module,
                    conv_cfg: dict,
                    kernel_size: Optional[int] = None) -> nn.Module:
    """Build ``conv_cfg``'s layer with the geometry of ``conv``.

    Upstream blocks build all their convs from one ``conv_cfg``; this builds
    one replacement, e.g. the 3x3 conv of a bottleneck as an ACDA 7x7. The
    new layer keeps ``conv``'s channels, stride, dilation, groups, padding
    mode and bias presence. With another ``kernel_size`` the padding changes
    by ``dilation * (kernel_size - k) // 2``, so the output grid is the same.

    Args:
        conv (nn.Module): A layer with ``nn.Conv2d``'s attributes
            (``in_channels, out_channels, kernel_size, stride, padding,
            dilation, groups, bias``; ``padding_mode`` if not zeros, and a
            PAFU's or ACDA's ``extra_padding`` of ``'same'``).
        conv_cfg (dict): The new layer, e.g. ``dict(type='PAFU',
            num_kernels=16)``.
        kernel_size (int, optional): Square kernel size of the new layer,
            with the parity of ``conv``'s square one. Default: ``conv``'s
            kernel size.

    Returns:
        nn.Module: The new, freshly initialised layer; mapping
        ``(B, in_channels, H, W)`` to the shape ``conv`` gives.
    """
    padding = conv.padding
    if any(getattr(conv, 'extra_padding', (0, 0))):
        padding = 'same'  # only 'same' pads one side more
    elif padding == 'valid':
        padding = (0, 0)
    if kernel_size is None:
        kernel_size = conv.kernel_size
    elif padding != 'same':
        old_size = conv.kernel_size[0]
        if conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError('a new kernel_size needs a square kernel, got '
                             f'kernel_size={conv.kernel_size}')
        if (not isinstance(kernel_size, int) or kernel_size < 1
                or (kernel_size - old_size) % 2):
            raise ValueError(f'kernel_size must be a positive int with the '
                             f'parity of the replaced kernel size {old_size}'
                             f', got {kernel_size!r}')
        padding = tuple(p + d * (kernel_size - old_size) // 2
                        for p, d in zip(padding, conv.dilation))
    padding_mode = getattr(conv, 'padding_mode', 'zeros')
    # Only where it matters: not every registered conv takes padding_mode.
    extra = {} if padding_mode == 'zeros' else dict(padding_mode=padding_mode)
    return build_conv_layer(
        conv_cfg,
        conv.in_channels,
        conv.out_channels,
        kernel_size,
        stride=conv.stride,
        padding=padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        **extra)
