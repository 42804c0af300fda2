"""Linear PAFU super-resolution (PAFU paper, section 4.2)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmagic.models.archs import SpatialTemporalEnsemble
from mmagic.registry import MODELS
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModule

from .argument_checks import check_positive_int


@MODELS.register_module()
class LinearPAFUSRNet(BaseModule):
    """A single PAFU on the low-resolution image predicting
    ``in_channels * s^2`` maps, then depth-to-space by ``s``.

    Each output pixel is a linear function of its LR neighbourhood; only
    which kernel applies is chosen per LR pixel (by the PAFU's selector),
    like RAISR with a learned hashing. ``self_ensemble`` gives the paper's
    "+" variant: at eval, the mean of the predictions on the 8 flips and
    transposes of the input, each mapped back (mmagic's
    ``SpatialTemporalEnsemble``).

    Args:
        in_channels (int): Image channels. Default: 3.
        upscale_factor (int): The scale ``s``. Default: 4.
        kernel_sizes (Sequence[int]): The PAFU's square kernel sizes,
            ``(5, )`` or the mixed group ``(5, 7)`` ("5x5&7x7").
            Default: ``(5, )``.
        pafu_cfg (dict, optional): The PAFU's ``conv_cfg``.
            Default: ``dict(type='PAFU', num_kernels=16)``.
        self_ensemble (bool): Average over the 8 flips/transposes in eval
            mode. Default: False.
        init_cfg (dict, optional): As ``BaseModule``. Default: None.
    """

    def __init__(self,
                 in_channels: int = 3,
                 upscale_factor: int = 4,
                 kernel_sizes: Sequence[int] = (5, ),
                 pafu_cfg: Optional[dict] = None,
                 self_ensemble: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_positive_int('upscale_factor', upscale_factor)
        if not isinstance(self_ensemble, bool):
            raise ValueError(
                f'self_ensemble must be a bool, got {self_ensemble!r}')
        if not kernel_sizes or any(
                not isinstance(k, int) or k < 1 or k % 2 == 0
                for k in kernel_sizes):
            raise ValueError('kernel_sizes must be odd positive ints, got '
                             f'{kernel_sizes!r}')
        self.upscale_factor = upscale_factor
        self.self_ensemble = self_ensemble
        pafu_cfg = dict(type='PAFU', num_kernels=16) if pafu_cfg is None else (
            pafu_cfg)
        if len(kernel_sizes) > 1:
            pafu_cfg = dict(pafu_cfg, kernel_sizes=kernel_sizes)
        # linear: no bias
        self.pafu = build_conv_layer(
            pafu_cfg,
            in_channels,
            in_channels * upscale_factor**2,
            max(kernel_sizes),
            padding='same',
            bias=False)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
        self.ensemble = SpatialTemporalEnsemble(is_temporal_ensemble=False)

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """The single prediction, ``(B, C, H, W)`` to ``(B, C, s * H,
        s * W)``."""
        return self.pixel_shuffle(self.pafu(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            Tensor: ``(B, in_channels, s * H, s * W)``; in eval mode with
            ``self_ensemble``, the mean over the 8 dihedral transforms.
        """
        if self.self_ensemble and not self.training:
            return self.ensemble(x, self.upscale)
        return self.upscale(x)
