"""The ACDA real-world restoration network (ACDA paper, section 4.3): RealSR
super-resolution and SIDD denoising, and its plain-conv baseline."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from .argument_checks import check_positive_int


class DynamicBottleneck(nn.Module):
    """1x1 squeeze, ``k x k`` adaptive conv, 1x1 expand, plus the identity.

    The ACDA paper's dynamic bottleneck (appendix A.4) without norm layers,
    as restoration networks keep them (EDSR, mmagic's
    ``ResidualBlockNoBN``): ReLU after the first two convs, none after the
    sum. The expand conv starts at zero, so the block starts as the
    identity (the "zero-init residual" of norm-free networks): an ACDA's
    coefficients grow with its input, making it quadratic in the input, and
    8 such blocks with random expand convs overflow at initialisation.

    Args:
        channels (int): Input and output channels.
        mid_channels (int): Channels of the adaptive conv.
        kernel_size (int): Odd kernel size of the adaptive conv.
        conv_cfg (dict, optional): The adaptive conv, e.g.
            ``dict(type='ACDA')``; None is ``nn.Conv2d``.
    """

    def __init__(self, channels: int, mid_channels: int, kernel_size: int,
                 conv_cfg: Optional[dict]):
        super().__init__()
        self.squeeze = ConvModule(channels, mid_channels, 1)
        self.adaptive_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size,
            padding=kernel_size // 2,
            conv_cfg=conv_cfg)
        self.expand = nn.Conv2d(mid_channels, channels, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, channels, H, W)``.

        Returns:
            Tensor: ``(B, channels, H, W)``.
        """
        return x + self.expand(self.adaptive_conv(self.squeeze(x)))


@MODELS.register_module()
class ACDARestorationNet(BaseModule):
    """Pixel-unshuffle, two convs, dynamic bottlenecks, two convs,
    pixel-shuffle: the ACDA paper's real-world SR and denoising network.

    As in LP-KPN (Cai et al. 2019), which the paper modifies, the network
    works at the output resolution: an SR input is first upsampled
    ``scale`` times (bicubic), so the same layers serve every ``scale``
    (1 for denoising). The image, replicate-padded to a multiple of
    ``unshuffle_factor``, is pixel-unshuffled, goes through conv 3x3 - ReLU
    - conv 3x3 - ReLU, ``num_blocks`` :class:`DynamicBottleneck`, conv 3x3 -
    ReLU - conv 3x3, and is pixel-shuffled back; the padding is cropped off
    and the upsampled input added (global residual). ``conv_cfg`` picks the
    bottlenecks' adaptive conv: ACDA, or ``None`` for the paper's plain-conv
    "Baseline" with the same layout.

    Args:
        img_channels (int): Image channels. Default: 3.
        mid_channels (int): Channels between unshuffle and shuffle.
            Default: 128.
        bottleneck_channels (int): Channels of the adaptive convs.
            Default: 64.
        num_blocks (int): Dynamic bottlenecks. Default: 8.
        kernel_size (int): Odd kernel size of the adaptive convs. Default: 7
            (ACDA with Fourier-Bessel bases at 3 scales, 3x3 to 7x7, the
            paper's appendix A.6 choice).
        scale (int): Upsampling factor, 1 for denoising. Default: 1.
        unshuffle_factor (int): Pixel-unshuffle (and shuffle) factor.
            Default: 4 (LP-KPN's).
        conv_cfg (dict, optional): The adaptive convs. Default:
            ``dict(type='ACDA')`` (6 atoms, the appendix A.3 atom
            generator); None is ``nn.Conv2d``.
        init_cfg (dict | list[dict], optional): Initialisation. Default:
            None (ConvModule's Kaiming init, ACDA's own, zero residual
            branches).
    """

    def __init__(self,
                 img_channels: int = 3,
                 mid_channels: int = 128,
                 bottleneck_channels: int = 64,
                 num_blocks: int = 8,
                 kernel_size: int = 7,
                 scale: int = 1,
                 unshuffle_factor: int = 4,
                 conv_cfg: Optional[dict] = dict(type='ACDA'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('img_channels', img_channels),
                            ('mid_channels', mid_channels),
                            ('bottleneck_channels', bottleneck_channels),
                            ('num_blocks', num_blocks), ('scale', scale),
                            ('unshuffle_factor', unshuffle_factor)):
            check_positive_int(name, value)
        check_positive_int('kernel_size', kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.scale = scale
        self.unshuffle_factor = unshuffle_factor
        unshuffled_channels = img_channels * unshuffle_factor**2
        self.head = nn.Sequential(
            ConvModule(unshuffled_channels, mid_channels, 3, padding=1),
            ConvModule(mid_channels, mid_channels, 3, padding=1))
        self.body = nn.Sequential(*(
            DynamicBottleneck(mid_channels, bottleneck_channels, kernel_size,
                              conv_cfg) for _ in range(num_blocks)))
        self.tail = nn.Sequential(
            ConvModule(mid_channels, mid_channels, 3, padding=1),
            nn.Conv2d(mid_channels, unshuffled_channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, img_channels, H, W)``, any ``H, W``.

        Returns:
            Tensor: ``(B, img_channels, scale * H, scale * W)``.
        """
        if self.scale > 1:
            x = F.interpolate(
                x,
                size=(self.scale * x.shape[-2], self.scale * x.shape[-1]),
                mode='bicubic',
                align_corners=False)
        height, width = x.shape[-2:]
        factor = self.unshuffle_factor
        padded = F.pad(
            x, [0, -width % factor, 0, -height % factor], mode='replicate')
        features = self.body(self.head(F.pixel_unshuffle(padded, factor)))
        residual = F.pixel_shuffle(self.tail(features), factor)
        return x + residual[..., :height, :width]
