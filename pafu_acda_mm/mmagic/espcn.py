"""ESPCN: the efficient sub-pixel convolutional network (Shi et al. 2016)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmagic.registry import MODELS
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModule

from .argument_checks import check_positive_int


@MODELS.register_module()
class ESPCNNet(BaseModule):
    """ESPCN: three convolutions on the low-resolution image, the last one
    predicting ``out_channels * s^2`` maps, then depth-to-space by ``s``.

    conv ``5x5`` (64) -> tanh -> conv ``3x3`` (32) -> tanh -> conv ``3x3``
    (``3 * s^2``) -> pixel shuffle, as Shi et al. (2016), on RGB instead of
    the luminance channel (PAFU paper, section 5.2). The arguments mirror
    mmagic's ``SRCNNNet``; ``out_conv_cfg`` makes the last layer adaptive
    (PAFU-ESPCN: ``dict(type='PAFU', num_kernels=16)``, which selects its
    kernel per pixel from the 32-channel embeddings it convolves).

    Args:
        channels (Sequence[int]): Input, two hidden and output channels.
            Default: (3, 64, 32, 3).
        kernel_sizes (Sequence[int]): Odd kernel sizes of the three convs.
            Default: (5, 3, 3).
        upscale_factor (int): The scale ``s``. Default: 4.
        out_conv_cfg (dict, optional): ``conv_cfg`` of the last conv for
            mmcv's ``build_conv_layer``. Default: None, ``nn.Conv2d``.
        init_cfg (dict, optional): As ``BaseModule``. Default: None.
    """

    def __init__(self,
                 channels: Sequence[int] = (3, 64, 32, 3),
                 kernel_sizes: Sequence[int] = (5, 3, 3),
                 upscale_factor: int = 4,
                 out_conv_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if len(channels) != 4:
            raise ValueError(
                f'channels must have 4 entries, got {channels!r}')
        if len(kernel_sizes) != 3 or any(
                not isinstance(k, int) or k < 1 or k % 2 == 0
                for k in kernel_sizes):
            raise ValueError('kernel_sizes must be 3 odd positive ints, got '
                             f'{kernel_sizes!r}')
        check_positive_int('upscale_factor', upscale_factor)
        self.upscale_factor = upscale_factor
        self.conv1 = nn.Conv2d(channels[0], channels[1], kernel_sizes[0],
                               padding=kernel_sizes[0] // 2)
        self.conv2 = nn.Conv2d(channels[1], channels[2], kernel_sizes[1],
                               padding=kernel_sizes[1] // 2)
        self.conv3 = build_conv_layer(
            out_conv_cfg,
            channels[2],
            channels[3] * upscale_factor**2,
            kernel_sizes[2],
            padding=kernel_sizes[2] // 2)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, channels[0], H, W)``.

        Returns:
            Tensor: ``(B, channels[3], s * H, s * W)``.
        """
        out = torch.tanh(self.conv1(x))
        out = torch.tanh(self.conv2(out))
        return self.pixel_shuffle(self.conv3(out))
