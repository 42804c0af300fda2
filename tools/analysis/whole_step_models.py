"""PAFU-ESPCN and PSPNet with PAFU-PPM in plain torch, and one training
iteration of each, for ``benchmark_layers.py --whole-step``.

The plugin's configs build these nets through mmagic and mmseg, which need
mmcv's compiled ops; the GPU machine has neither. These are the same nets
from torch and the plugin's PAFU alone: the same layers and parameter
shapes as ``configs/pafu_sr/pafu-espcn_x4_1xb16-300k_div2k.py`` and
``configs/pafu_pspnet/_base_/pafu-pspnet_r50-d8.py`` build, and their plain
twins (tests/tools/test_benchmarks.py checks both against the codebases'
builds where these import). A training iteration is the one of those
configs: the task loss, PAFU's decorrelation loss, backward and the
optimizer's step.
"""
import contextlib
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from pafu_acda_mm.layers import PAFU, pafu_decorrelation_loss

# name: (batch, input size) of one training iteration, as the configs
# train (ESPCN: 48x48 LR patches at x4; PSPNet: 512x512 crops, 4 per GPU).
BATCHES = {'espcn': (16, 48), 'pspnet': (4, 512)}
# --tiny: sizes that only check the code paths, and a width divisor.
TINY_BATCHES = {'espcn': (2, 8), 'pspnet': (2, 32)}
TINY_WIDTH_DIVISOR = 8


class ESPCN(nn.Module):
    """mmagic ESPCNNet as the plugin configures it at x4: conv 5x5 (64) ->
    tanh -> conv 3x3 (32) -> tanh -> conv 3x3 (48) -> pixel shuffle, the
    last conv a PAFU of 16 kernels in PAFU-ESPCN.

    Args:
        pafu (bool): PAFU-ESPCN, else ESPCN.
        upscale_factor (int): The scale ``s``. Default: 4.

    Shapes: ``(B, 3, H, W)`` to ``(B, 3, s * H, s * W)``.
    """

    def __init__(self, pafu: bool, upscale_factor: int = 4):
        super().__init__()
        out_channels = 3 * upscale_factor**2
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv3 = (PAFU(32, out_channels, 3, padding=1, num_kernels=16)
                      if pafu else nn.Conv2d(32, out_channels, 3, padding=1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.tanh(self.conv1(x))
        out = torch.tanh(self.conv2(out))
        return self.pixel_shuffle(self.conv3(out))


def conv_bn_relu(in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 dilation: int = 1,
                 conv: Optional[nn.Module] = None) -> nn.Sequential:
    """mmcv's ConvModule with BN and ReLU: a conv without bias (``conv``,
    or an ``nn.Conv2d`` padded to keep the size), BN, ReLU."""
    if conv is None:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                         dilation * (kernel_size // 2), dilation, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class Bottleneck(nn.Module):
    """mmseg's ResNet bottleneck, pytorch style (the stride on the 3x3).

    Shapes: ``(B, in_channels, H, W)`` to ``(B, 4 * planes, H / stride,
    W / stride)``.
    """

    def __init__(self, in_channels: int, planes: int, stride: int,
                 dilation: int):
        super().__init__()
        self.conv1 = conv_bn_relu(in_channels, planes, 1)
        self.conv2 = conv_bn_relu(planes, planes, 3, stride, dilation)
        self.conv3 = nn.Sequential(nn.Conv2d(planes, 4 * planes, 1,
                                             bias=False),
                                   nn.BatchNorm2d(4 * planes))
        self.downsample = None
        if stride != 1 or in_channels != 4 * planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, 4 * planes, 1, stride, bias=False),
                nn.BatchNorm2d(4 * planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class DilatedResNet50(nn.Module):
    """mmseg's ResNetV1c-50 as pspnet_r50-d8 configures it: a deep stem of
    three 3x3 convs, stages of (3, 4, 6, 3) bottlenecks with strides
    (1, 2, 1, 1) and dilations (1, 1, 2, 4), each dilated stage's first block
    at half its dilation (``contract_dilation``): output stride 8.

    Args:
        base_channels (int): Channels of the stem and of the first stage's
            bottlenecks. Default: 64.

    Shapes: ``(B, 3, H, W)`` to the last two stages' features,
    ``(B, 16 * base_channels, H / 8, W / 8)`` and
    ``(B, 32 * base_channels, H / 8, W / 8)``.
    """

    def __init__(self, base_channels: int = 64):
        super().__init__()
        self.stem = nn.Sequential(
            conv_bn_relu(3, base_channels // 2, 3, stride=2),
            conv_bn_relu(base_channels // 2, base_channels // 2, 3),
            conv_bn_relu(base_channels // 2, base_channels, 3),
            nn.MaxPool2d(3, 2, 1))
        in_channels = base_channels
        stages = []
        for index, (blocks, stride, dilation) in enumerate(
                zip((3, 4, 6, 3), (1, 2, 1, 1), (1, 1, 2, 4))):
            planes = base_channels * 2**index
            stage = [Bottleneck(in_channels, planes, stride,
                                max(dilation // 2, 1))]
            stage += [Bottleneck(4 * planes, planes, 1, dilation)
                      for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = 4 * planes
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features[-2], features[-1]


class PSPNet(nn.Module):
    """PSPNet-R50-D8 as mmseg's pspnet_r50-d8 builds it, with the PAFU-PPM
    head of the plugin's PAFUPSPHead: the pyramid pooling module (pool
    scales 1, 2, 3, 6), its 3x3 bottleneck (a PAFU of 8 kernels in
    PAFU-PPM), dropout and the classifier, and the FCN auxiliary head on
    the third stage.

    Args:
        pafu (bool): PAFU-PPM, else PSPNet's head.
        num_classes (int): Default: 150 (ADE20K).
        base_channels (int): The backbone's (see :class:`DilatedResNet50`);
            the heads' widths scale with it. Default: 64.

    Shapes: ``(B, 3, H, W)`` to the decode and auxiliary heads' logits,
    each ``(B, num_classes, H / 8, W / 8)``.
    """

    def __init__(self, pafu: bool, num_classes: int = 150,
                 base_channels: int = 64):
        super().__init__()
        self.backbone = DilatedResNet50(base_channels)
        features, channels = 32 * base_channels, 8 * base_channels
        self.pyramid = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale),
                          conv_bn_relu(features, channels, 1))
            for scale in (1, 2, 3, 6))
        pyramid_channels = features + 4 * channels
        self.bottleneck = conv_bn_relu(
            pyramid_channels, channels, 3,
            conv=PAFU(pyramid_channels, channels, 3, padding=1, bias=False,
                      num_kernels=8) if pafu else None)
        self.classifier = nn.Sequential(nn.Dropout2d(0.1),
                                        nn.Conv2d(channels, num_classes, 1))
        aux_channels = 4 * base_channels
        self.auxiliary = nn.Sequential(
            conv_bn_relu(16 * base_channels, aux_channels, 3),
            nn.Dropout2d(0.1), nn.Conv2d(aux_channels, num_classes, 1))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        stage3, stage4 = self.backbone(x)
        pooled = [
            F.interpolate(level(stage4), stage4.shape[-2:], mode='bilinear',
                          align_corners=False) for level in self.pyramid
        ]
        out = self.bottleneck(torch.cat([stage4, *pooled], dim=1))
        return self.classifier(out), self.auxiliary(stage3)


def _segmentation_loss(logits: Tuple[torch.Tensor, torch.Tensor],
                       labels: torch.Tensor) -> torch.Tensor:
    """mmseg's PSPNet losses: cross-entropy of the decode head's logits and
    0.4 times the auxiliary head's, each resized to the labels' size."""
    decode, auxiliary = (
        F.interpolate(out.float(), labels.shape[-2:], mode='bilinear',
                      align_corners=False) for out in logits)
    return (F.cross_entropy(decode, labels, ignore_index=255) +
            0.4 * F.cross_entropy(auxiliary, labels, ignore_index=255))


def autocast_to(device_type: str, dtype: torch.dtype):
    """Autocast to ``dtype``, or no autocast for fp32 (torch 2.1 refuses a
    CPU autocast to fp32 even disabled)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)


def build_model(name: str, pafu: bool, tiny: bool = False) -> nn.Module:
    """``'espcn'`` or ``'pspnet'``, with PAFU (PAFU-ESPCN, PAFU-PPM) or
    plain; ``tiny`` narrows PSPNet by :data:`TINY_WIDTH_DIVISOR`.

    Raises:
        ValueError: For another ``name``.
    """
    torch.manual_seed(0)
    if name == 'espcn':
        return ESPCN(pafu)
    if name == 'pspnet':
        return PSPNet(pafu, base_channels=64 // TINY_WIDTH_DIVISOR
                      if tiny else 64)
    raise ValueError(f'name must be one of {sorted(BATCHES)}, got {name!r}')


class TrainingIteration:
    """One training iteration of :func:`build_model`'s net on a fixed
    random batch, as its config trains: the task loss (ESPCN: L1 to the
    high-resolution image, Adam; PSPNet: cross-entropy of both heads, SGD
    with momentum and weight decay), plus PAFU's decorrelation loss, under
    autocast to ``dtype`` unless it is fp32; synchronised on CUDA.

    Args:
        name (str): ``'espcn'`` or ``'pspnet'``.
        pafu (bool): The PAFU net, else its plain twin.
        device (str): Where it runs.
        dtype (torch.dtype): fp32, or autocast to bf16 or fp16.
            Default: fp32.
        tiny (bool): :data:`TINY_BATCHES` and a narrow PSPNet.
            Default: False.

    Attributes:
        model (nn.Module): The net, in training mode.

    Calling it runs one iteration and returns its loss (detached).
    """

    def __init__(self, name: str, pafu: bool, device: str,
                 dtype: torch.dtype = torch.float32, tiny: bool = False):
        self.model = build_model(name, pafu, tiny).to(device).train()
        self.pafu, self.dtype = pafu, dtype
        batch, size = (TINY_BATCHES if tiny else BATCHES)[name]
        generator = torch.Generator().manual_seed(0)
        images = torch.rand(batch, 3, size, size, generator=generator)
        parameters = self.model.parameters()
        if name == 'espcn':
            target = torch.rand(batch, 3, 4 * size, 4 * size,
                                generator=generator)
            self.loss_of = F.l1_loss
            self.optimizer = torch.optim.Adam(parameters, lr=1e-4)
        else:
            target = torch.randint(150, (batch, size, size),
                                   generator=generator)
            self.loss_of = _segmentation_loss
            self.optimizer = torch.optim.SGD(parameters, lr=0.01,
                                             momentum=0.9, weight_decay=5e-4)
        self.images, self.target = images.to(device), target.to(device)

    def __call__(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast_to(self.images.device.type, self.dtype):
            loss = self.loss_of(self.model(self.images), self.target)
            if self.pafu:
                loss = loss + pafu_decorrelation_loss(self.model)
        loss.backward()
        self.optimizer.step()
        if self.images.is_cuda:
            torch.cuda.synchronize()
        return loss.detach()
