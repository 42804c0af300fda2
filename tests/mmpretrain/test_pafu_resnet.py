import pytest
import torch
import torch.nn as nn
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.mmpretrain import PAFUResNet, PAFUResNet_CIFAR

CIFAR_110 = dict(depth=110, stem_channels=16, base_channels=16, num_stages=3,
                 strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ))


def pafu_names(model: nn.Module) -> list:
    return [name for name, m in model.named_modules() if isinstance(m, PAFU)]


def test_imagenet_resnet50_has_a_pafu_as_first_3x3_conv_of_each_stage():
    backbone = PAFUResNet(depth=50)
    assert pafu_names(backbone) == [
        f'layer{stage}.0.conv2' for stage in range(1, 5)
    ]
    for stage, channels in enumerate((64, 128, 256, 512), 1):
        first = getattr(backbone, f'layer{stage}')[0]
        assert isinstance(first, Bottleneck)
        pafu = first.conv2
        assert pafu.num_kernels == 16 and pafu.bias is None
        assert pafu.in_channels == pafu.out_channels == channels
        assert pafu.stride == ((1, 1) if stage == 1 else (2, 2))
    out, = backbone(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 2048, 2, 2)


def test_cifar_resnet110_layout_and_pafu_positions():
    backbone = PAFUResNet_CIFAR(**CIFAR_110)
    assert [len(getattr(backbone, f'layer{i}')) for i in (1, 2, 3)] == [18] * 3
    assert all(
        isinstance(block, BasicBlock) for i in (1, 2, 3)
        for block in getattr(backbone, f'layer{i}'))
    assert pafu_names(backbone) == ['layer1.0.conv1', 'layer2.0.conv1',
                                    'layer3.0.conv1']
    assert [backbone.layer2[0].conv1.stride, backbone.layer3[0].conv1.stride
            ] == [(2, 2), (2, 2)]
    out, = backbone(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 64, 8, 8)


def test_cifar_resnet110_parameters():
    plain = PAFUResNet_CIFAR(**CIFAR_110, stage_with_pafu=(False, ) * 3)
    assert pafu_names(plain) == []
    plain_count = sum(p.numel() for p in plain.parameters())
    # He et al. report 1.7M with zero-padded shortcuts; mmpretrain's two
    # 1x1 projection shortcuts (conv + BN) add 2.7k. Without the FC layer.
    assert plain_count == 1_730_064
    pafu = PAFUResNet_CIFAR(**CIFAR_110)
    extra = 0
    for name in pafu_names(pafu):
        layer = pafu.get_submodule(name)
        extra += (layer.num_kernels - 1) * layer.weight.numel() // (
            layer.num_kernels) + sum(p.numel()
                                     for p in layer.selector.parameters())
    assert sum(p.numel() for p in pafu.parameters()) == plain_count + extra


def test_stage_with_pafu_picks_the_stages():
    backbone = PAFUResNet_CIFAR(**CIFAR_110,
                                stage_with_pafu=(False, True, False),
                                pafu_cfg=dict(type='PAFU', num_kernels=4))
    assert pafu_names(backbone) == ['layer2.0.conv1']
    assert backbone.layer2[0].conv1.num_kernels == 4


def test_bad_stage_arguments_are_refused():
    with pytest.raises(ValueError, match=r'stage_with_pafu must have one '
                       r'entry per stage \(3\)'):
        PAFUResNet_CIFAR(**CIFAR_110, stage_with_pafu=(True, True))
    with pytest.raises(ValueError, match='depth=110 has 3 stages, got '
                       'num_stages=4'):
        PAFUResNet_CIFAR(depth=110)


def test_unknown_depth_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r'depth must be one of \(18, 34, '
                       r'50, 101, 152\), got 42'):
        PAFUResNet(depth=42)
    with pytest.raises(ValueError, match=r'depth must be one of \(18, .*'
                       r'20, 32, 44, 56, 110\), got 111'):
        PAFUResNet_CIFAR(depth=111, num_stages=3)
