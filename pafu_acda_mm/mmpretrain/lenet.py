"""LeNet for CIFAR with configurable convolutions (ACDA paper, section 4.1,
Table 1: "LeNet + ACDA" replaces both convolutions)."""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS


@MODELS.register_module()
class LeNet(BaseBackbone):
    """LeNet with two 5x5 convolutions built from ``conv_cfg``, for 32x32
    colour images (the CIFAR LeNet of the ACDA paper's Table 1).

    conv 5x5 (6) - ReLU - max pool 2 - conv 5x5 (16) - ReLU - max pool 2,
    then, with ``num_classes > 0``, FC 400-120-84-``num_classes`` with ReLU.
    mmpretrain's ``LeNet5`` is the grayscale MNIST variant (Tanh, average
    pooling, a third convolution) with fixed ``nn.Conv2d`` layers.

    Args:
        in_channels (int): Input channels. Default: 3.
        num_classes (int): Classes of the built-in classifier; -1 returns the
            ``(B, 16, 5, 5)`` features instead. Default: -1.
        conv_cfg (dict, optional): Both convolutions, e.g.
            ``dict(type='ACDA')``. Default: None (``nn.Conv2d``).
        init_cfg (dict | list[dict], optional): Initialisation.
    """

    def __init__(self,
                 in_channels: int = 3,
                 num_classes: int = -1,
                 conv_cfg: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes == 0 or (
                num_classes < -1):
            raise ValueError('num_classes must be a positive int or -1, got '
                             f'{num_classes!r}')
        self.num_classes = num_classes
        self.features = nn.Sequential(
            build_conv_layer(conv_cfg, in_channels, 6, 5), nn.ReLU(),
            nn.MaxPool2d(2), build_conv_layer(conv_cfg, 6, 16, 5), nn.ReLU(),
            nn.MaxPool2d(2))
        if num_classes > 0:
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
                nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> tuple:
        """
        Args:
            x (Tensor): ``(B, in_channels, 32, 32)``.

        Returns:
            tuple[Tensor]: ``((B, num_classes), )`` logits, or the
            ``(B, 16, 5, 5)`` features when ``num_classes`` is -1.
        """
        x = self.features(x)
        if self.num_classes > 0:
            x = self.classifier(x)
        return (x, )
