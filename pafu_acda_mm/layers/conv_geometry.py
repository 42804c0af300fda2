"""``nn.Conv2d``'s arguments, validated, as the attributes ConvModule reads,
and ``nn.Conv2d``'s handling of its input: unbatched inputs, padding modes and
``'same'`` padding."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

PADDING_MODES = ('zeros', 'reflect', 'replicate', 'circular')
PADDING_STRINGS = ('same', 'valid')


def _pair(value, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) for v in value)):
        return tuple(value)
    raise ValueError(f'{name} must be an int or a pair of ints, got {value!r}')


class Conv2dGeometry(nn.Module):
    """Base of the adaptive convs: takes and holds ``nn.Conv2d``'s geometry
    (``in_channels, out_channels, kernel_size, stride, padding, dilation,
    groups, padding_mode, transposed, output_padding``), so ``ConvModule``
    and backbones that read them keep working, and gives inputs the padding
    ``nn.Conv2d`` would.

    ``padding='valid'`` and ``'same'`` are stored as the amounts they mean.
    Where ``'same'`` needs one more row or column at the bottom or right
    (an even ``dilation * (k - 1)``, as ``nn.Conv2d`` pads it), or
    ``padding_mode`` is not ``'zeros'``, :meth:`pad_input` pads the input
    beforehand and the layer then computes unpadded.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): As ``nn.Conv2d``.
        stride, dilation (int | tuple[int, int]): As ``nn.Conv2d``.
        padding (int | tuple[int, int] | str): As ``nn.Conv2d``, including
            ``'same'`` (stride 1 only) and ``'valid'``.
        groups (int): As ``nn.Conv2d``.
        padding_mode (str): One of :data:`PADDING_MODES`, as ``nn.Conv2d``.
    """

    transposed = False
    output_padding = (0, 0)

    def __init__(self, in_channels: int, out_channels: int, kernel_size,
                 stride, padding, dilation, groups: int,
                 padding_mode: str = 'zeros'):
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
        if padding_mode not in PADDING_MODES:
            raise ValueError(f'padding_mode must be one of {PADDING_MODES}, '
                             f'got {padding_mode!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size, 'kernel_size')
        self.stride = _pair(stride, 'stride')
        self.dilation = _pair(dilation, 'dilation')
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(
                self.dilation) < 1:
            raise ValueError(
                'kernel_size, stride and dilation must be >= 1, got '
                f'kernel_size={kernel_size}, stride={stride}, '
                f'dilation={dilation}')
        self.padding, self.extra_padding = self._resolve_padding(padding)
        self.groups = groups
        self.padding_mode = padding_mode

    def _resolve_padding(
            self, padding) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        """``padding`` as ``(symmetric amounts, one more at the bottom and
        right)``."""
        if isinstance(padding, str):
            if padding not in PADDING_STRINGS:
                raise ValueError(f'padding must be an int, a pair of ints or '
                                 f'one of {PADDING_STRINGS}, got {padding!r}')
            if padding == 'valid':
                return (0, 0), (0, 0)
            if self.stride != (1, 1):
                raise ValueError(
                    "padding='same' is not supported for strided "
                    f'convolutions (stride={self.stride})')
            totals = [d * (k - 1)
                      for d, k in zip(self.dilation, self.kernel_size)]
            return (tuple(t // 2 for t in totals),
                    tuple(t % 2 for t in totals))
        pair = _pair(padding, 'padding')
        if min(pair) < 0:
            raise ValueError(f'padding must be >= 0, got {padding!r}')
        return pair, (0, 0)

    def pad_input(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int,
                                                                      int]]:
        """The input to compute on, and the zero padding still to apply.

        Args:
            x (Tensor): ``(B, C, H, W)``.

        Returns:
            tuple[Tensor, tuple[int, int]]: ``x`` and :attr:`padding` where
            that is all ``nn.Conv2d`` would do, else ``x`` padded as
            ``nn.Conv2d`` pads it and ``(0, 0)``.
        """
        if self.padding_mode == 'zeros' and not any(self.extra_padding):
            return x, self.padding
        (pad_h, pad_w), (extra_h, extra_w) = self.padding, self.extra_padding
        mode = ('constant'
                if self.padding_mode == 'zeros' else self.padding_mode)
        return F.pad(x, [pad_w, pad_w + extra_w, pad_h, pad_h + extra_h],
                     mode=mode), (0, 0)

    def batched_input(self, x: torch.Tensor) -> Tuple[torch.Tensor, bool]:
        """``x`` as a batch, and whether it was unbatched, as ``nn.Conv2d``
        takes it.

        Args:
            x (Tensor): ``(B, in_channels, H, W)`` or ``(in_channels, H, W)``.

        Returns:
            tuple[Tensor, bool]: ``(B, in_channels, H, W)``, and True for a
            3-D ``x`` (whose outputs then drop the batch dimension).

        Raises:
            RuntimeError: For another number of dimensions or channels, with
                the layer's ``in_channels`` (like ``nn.Conv2d``'s error).
        """
        if x.dim() not in (3, 4):
            raise RuntimeError(
                f'{type(self).__name__} expects a 4-D (B, C, H, W) or '
                f'unbatched 3-D (C, H, W) input, got shape {tuple(x.shape)}')
        if x.shape[-3] != self.in_channels:
            raise RuntimeError(
                f'{type(self).__name__} with in_channels='
                f'{self.in_channels} got an input with {x.shape[-3]} '
                f'channels, shape {tuple(x.shape)}')
        return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)

    def extra_repr(self) -> str:
        text = (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}')
        if any(self.extra_padding):
            text += f', extra_padding={self.extra_padding}'
        if self.padding_mode != 'zeros':
            text += f', padding_mode={self.padding_mode!r}'
        return text
