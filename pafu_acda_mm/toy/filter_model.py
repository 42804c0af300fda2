"""A model that is one (adaptive) convolution, for the toy tasks."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from ..layers import PAFU, pafu_decorrelation_loss


@MODELS.register_module()
class SingleLayerFilter(BaseModel):
    """``out = conv(inputs)`` with a conv built from ``conv_cfg``, L1 loss.

    Args:
        conv_cfg (dict): The layer, e.g. ``dict(type='PAFU', num_kernels=2)``.
        kernel_size (int | Sequence[int]): Passed to the layer; padding keeps
            the image size.
        channels (int): Input and output channels. Default: 3.
        decorrelation_weight (float): Weight of the PAFU decorrelation loss
            when the layer is a PAFU. Default: 1.0 (the paper's).
    """

    def __init__(self,
                 conv_cfg: dict,
                 kernel_size,
                 channels: int = 3,
                 decorrelation_weight: float = 1.0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        largest = (kernel_size if isinstance(kernel_size, int) else
                   max(kernel_size))
        self.conv = build_conv_layer(conv_cfg, channels, channels,
                                     kernel_size, padding=largest // 2)
        self.decorrelation_weight = decorrelation_weight

    def forward(self, inputs: torch.Tensor, target: torch.Tensor,
                mode: str = 'tensor'):
        """
        Args:
            inputs (Tensor): ``(B, C, H, W)``.
            target (Tensor): ``(B, C, H, W)``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict | list | Tensor: Losses; per-sample
            ``dict(pred=..., target=...)``; or the output.
        """
        out = self.conv(inputs)
        if mode == 'tensor':
            return out
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(out, target)]
        if mode != 'loss':
            raise ValueError(
                f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
        losses = dict(loss_l1=F.l1_loss(out, target))
        if isinstance(self.conv, PAFU):
            losses['loss_decorrelation'] = (
                self.decorrelation_weight * pafu_decorrelation_loss(self))
        return losses
