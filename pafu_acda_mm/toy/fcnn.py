"""Fully convolutional baselines of the SAD comparison (PAFU paper fig. 2)."""
import torch
import torch.nn as nn
from mmengine.registry import MODELS


def conv_relu_stack(in_channels: int,
                    out_channels: int,
                    width: int,
                    depth: int,
                    kernel_size: int = 3) -> nn.Sequential:
    """``depth`` "same" convolutions with ReLU between them, none after.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels of the last convolution.
        width (int): Channels of the hidden layers.
        depth (int): Number of convolutions, >= 2.
        kernel_size (int): Odd kernel size. Default: 3.

    Returns:
        nn.Sequential: Maps ``(B, in_channels, H, W)`` to
        ``(B, out_channels, H, W)``; its weights are channels-last (run it
        with :func:`run_channels_last`).
    """
    if depth < 2:
        raise ValueError(f'depth must be >= 2, got {depth}')
    channels = [in_channels] + [width] * (depth - 1) + [out_channels]
    layers = []
    for index, (cin, cout) in enumerate(zip(channels[:-1], channels[1:])):
        if index:
            layers.append(nn.ReLU(inplace=True))
        layers.append(
            nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2))
    # Channels-last: oneDNN's faster layout for these convs on the CPU.
    return nn.Sequential(*layers).to(memory_format=torch.channels_last)


def run_channels_last(stack: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``stack(x)`` computed channels-last, returned contiguous (NCHW).

    Args:
        stack (nn.Module): E.g. a :func:`conv_relu_stack`.
        x (Tensor): ``(B, C, H, W)``.

    Returns:
        Tensor: ``stack``'s output, contiguous.
    """
    return stack(x.contiguous(memory_format=torch.channels_last)).contiguous()


@MODELS.register_module()
class FCNN(nn.Module):
    """A plain stack of 3x3 convolutions and ReLUs, optionally residual.

    The default (5 layers, 35 channels) has 35.1K parameters, the budget of
    the paper's SAD comparison.

    Args:
        channels (int): Input and output channels. Default: 3.
        width (int): Hidden channels. Default: 35.
        depth (int): Number of convolutions. Default: 5.
        residual (bool): Predict ``x + net(x)`` (the "residual FCNN").
            Default: False.
    """

    def __init__(self,
                 channels: int = 3,
                 width: int = 35,
                 depth: int = 5,
                 residual: bool = False):
        super().__init__()
        self.body = conv_relu_stack(channels, channels, width, depth)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, channels, H, W)``.

        Returns:
            Tensor: ``(B, channels, H, W)``.
        """
        out = run_channels_last(self.body, x)
        return x + out if self.residual else out
