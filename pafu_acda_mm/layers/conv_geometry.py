"""``nn.Conv2d``'s arguments, validated, as the attributes ConvModule reads."""
from typing import Tuple

import torch.nn as nn


def _pair(value, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) for v in value)):
        return tuple(value)
    raise ValueError(f'{name} must be an int or a pair of ints, got {value!r}')


class Conv2dGeometry(nn.Module):
    """Base of the adaptive convs: holds ``in_channels, out_channels,
    kernel_size, stride, padding, dilation, groups, transposed,
    output_padding`` like ``nn.Conv2d``, so ``ConvModule`` and backbones that
    read them keep working.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Odd size of the (largest) square kernel.
        stride, padding, dilation (int | tuple[int, int]): As ``nn.Conv2d``.
        groups (int): As ``nn.Conv2d``.
    """

    transposed = False
    output_padding = (0, 0)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride, padding, dilation, groups: int):
        super().__init__()
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('groups', groups)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'{name} must be a positive int, got {value!r}')
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f'groups={groups} must divide in_channels={in_channels} and '
                f'out_channels={out_channels}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = (kernel_size, kernel_size)
        self.stride = _pair(stride, 'stride')
        self.padding = _pair(padding, 'padding')
        self.dilation = _pair(dilation, 'dilation')
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(
                self.padding) < 0:
            raise ValueError(
                'stride and dilation must be >= 1 and padding >= 0, got '
                f'stride={stride}, dilation={dilation}, padding={padding}')
        self.groups = groups

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}')
