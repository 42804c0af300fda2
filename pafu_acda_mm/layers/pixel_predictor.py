"""A compact two-conv CNN that predicts values on a convolution's output grid.

PAFU's kernel selector and ACDA's atom generator both predict, for every
output pixel of a convolution, a vector computed from the input neighbourhood
centred where that output pixel's filter is centred. This module owns that
alignment for any stride, padding and dilation of the host convolution.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer

from ..ops.memory_format import to_channels_last


class PixelPredictor(nn.Module):
    """``reduce`` conv -> norm -> act -> ``predict`` conv (-> out act).

    The input is zero-padded (or cropped, for a negative amount) once so that
    both convs run unpadded and output pixel ``(i, j)`` sees the input
    neighbourhood centred on ``(i * stride - padding + dilation * (k // 2))``,
    the centre tap of the host convolution's ``k`` window at that pixel
    (per dimension; right of the middle for even ``k``). The
    host's stride goes to the predict conv (the neighbourhood is then
    ``reduce + predict - 1`` pixels wide) or, with ``strided_reduce``, to the
    reduce conv, as in the ACDA authors' public generator (``stride *
    (predict - 1) + reduce`` wide, and both convs run at the output's
    resolution, ``stride ** 2`` times cheaper).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Predicted values per output pixel.
        mid_channels (int): Channels between the two convs. Default: 64.
        reduce_kernel_size (int): Odd kernel size of the first conv.
            Default: 1.
        kernel_size (int): Odd kernel size of the second conv. Default: 3.
        norm_cfg (dict, optional): Norm after each conv, e.g.
            ``dict(type='BN')``. Default: None.
        act_cfg (dict): Activation after the first conv.
            Default: ``dict(type='ReLU')``.
        out_act_cfg (dict, optional): Activation on the prediction, e.g.
            ``dict(type='Tanh')``. Default: None.
        strided_reduce (bool): Whether the reduce conv carries the host's
            stride instead of the predict conv. Default: False.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int = 64,
                 reduce_kernel_size: int = 1,
                 kernel_size: int = 3,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: dict = dict(type='ReLU'),
                 out_act_cfg: Optional[dict] = None,
                 strided_reduce: bool = False):
        super().__init__()
        for name, size in (('reduce_kernel_size', reduce_kernel_size),
                           ('kernel_size', kernel_size)):
            if not isinstance(size, int) or size < 1 or size % 2 == 0:
                raise ValueError(
                    f'{name} must be an odd positive int, got {size!r}')
        if not isinstance(mid_channels, int) or mid_channels < 1:
            raise ValueError(
                f'mid_channels must be a positive int, got {mid_channels!r}')
        self.strided_reduce = strided_reduce
        with_norm = norm_cfg is not None
        layers = [
            nn.Conv2d(in_channels, mid_channels, reduce_kernel_size,
                      bias=not with_norm)
        ]
        if with_norm:
            layers.append(build_norm_layer(norm_cfg, mid_channels)[1])
        layers.append(build_activation_layer(act_cfg))
        self.reduce = nn.Sequential(*layers)
        # The host convolution sets the stride per call (see forward).
        self.predict = nn.Conv2d(mid_channels, out_channels, kernel_size,
                                 bias=not with_norm)
        self.predict_norm = (
            build_norm_layer(norm_cfg, out_channels)[1]
            if with_norm else nn.Identity())
        self.out_act = (
            build_activation_layer(out_act_cfg)
            if out_act_cfg is not None else nn.Identity())
        # The convs run channels-last (see forward), and oneDNN returns their
        # weight gradients channels-last: weights stored alike keep DDP's
        # gradient buckets from copying (and warning about 1x1 strides).
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, kernel_size: Tuple[int, int],
                stride: Tuple[int, int], padding: Tuple[int, int],
                dilation: Tuple[int, int]) -> torch.Tensor:
        """Predict on the output grid of a host convolution.

        Args:
            x (Tensor): Input of shape ``(B, C_in, H, W)``.
            kernel_size, stride, padding, dilation (tuple[int, int]): The
                host convolution's geometry.

        Returns:
            Tensor: ``(B, out_channels, H_out, W_out)`` where ``H_out, W_out``
            equal ``nn.Conv2d``'s output size for that geometry.
        """
        reduce_conv = self.reduce[0]
        reduce_radius = reduce_conv.kernel_size[0] // 2
        predict_radius = self.predict.kernel_size[0] // 2
        # Padding (negative: crop) before and after the input so that the
        # predictor's first output is centred on the first window's centre
        # tap, and it has the host's output size (an even kernel's centre
        # tap has one more tap before it than after).
        margin = [
            reduce_radius + (s if self.strided_reduce else 1) * predict_radius
            for s in stride
        ]
        geometry = list(zip(kernel_size, padding, dilation, margin))
        before = [p - d * (k // 2) + m for k, p, d, m in geometry]
        after = [p - d * ((k - 1) // 2) + m for k, p, d, m in geometry]
        # Channels-last: oneDNN's faster layout for these convs (1.6x at
        # 64 channels), and the layout the PAFU/ACDA computations use.
        x = to_channels_last(x)
        if any(before) or any(after):
            x = F.pad(x, [before[1], after[1], before[0], after[0]])
        reduce_stride, predict_stride = ((stride, 1) if self.strided_reduce
                                         else (1, stride))
        hidden = F.conv2d(x, reduce_conv.weight, reduce_conv.bias,
                          reduce_stride)
        hidden = self.reduce[1:](hidden)
        out = F.conv2d(hidden, self.predict.weight, self.predict.bias,
                       predict_stride)
        return self.out_act(self.predict_norm(out))
