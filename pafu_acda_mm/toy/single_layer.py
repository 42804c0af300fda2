"""A network that is one (adaptive) convolution, for the toy tasks."""
import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer
from mmengine.registry import MODELS


@MODELS.register_module()
class SingleLayer(nn.Module):
    """One convolution built from ``conv_cfg`` with "same" padding.

    ``conv_cfg=dict(type='PAFU', num_kernels=2)``, ``dict(type='ACDA')`` or
    ``None`` (a plain ``nn.Conv2d``).

    Args:
        conv_cfg (dict, optional): The layer's config.
        kernel_size (int | tuple[int, int]): Passed to the layer, with
            ``padding='same'``.
        in_channels (int): Input channels. Default: 3.
        out_channels (int): Output channels. Default: 3.
    """

    def __init__(self,
                 conv_cfg,
                 kernel_size,
                 in_channels: int = 3,
                 out_channels: int = 3):
        super().__init__()
        self.conv = build_conv_layer(
            conv_cfg, in_channels, out_channels, kernel_size, padding='same')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            Tensor: ``(B, out_channels, H, W)``.
        """
        return self.conv(x)
