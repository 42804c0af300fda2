"""Kernel prediction network (KPN) baseline of the SAD comparison."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .fcnn import conv_relu_stack, run_channels_last


@MODELS.register_module()
class KPN(nn.Module):
    """Predict a ``k x k`` kernel at every pixel and apply it there.

    A stack of 3x3 convolutions predicts ``k * k`` unnormalised weights per
    pixel (as Mildenhall et al.'s kernel prediction networks), shared by the
    colour channels. The default (5 layers, 32 channels, 5x5 kernels) has
    35.9K parameters.

    Args:
        channels (int): Input and output channels. Default: 3.
        width (int): Hidden channels of the predictor. Default: 32.
        depth (int): Convolutions of the predictor. Default: 5.
        kernel_size (int): Odd size of the predicted kernels. Default: 5.
    """

    def __init__(self,
                 channels: int = 3,
                 width: int = 32,
                 depth: int = 5,
                 kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.kernel_size = kernel_size
        self.predictor = conv_relu_stack(channels, kernel_size**2, width,
                                         depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, channels, H, W)``.

        Returns:
            Tensor: ``(B, channels, H, W)``, at each pixel its predicted
            kernel applied to every channel's ``k x k`` neighbourhood.
        """
        batch, channels, height, width = x.shape
        kernels = run_channels_last(self.predictor,
                                    x).view(batch, 1, -1, height, width)
        patches = F.unfold(
            x, self.kernel_size,
            padding=self.kernel_size // 2).view(batch, channels, -1, height,
                                                width)
        return (patches * kernels).sum(dim=2)
