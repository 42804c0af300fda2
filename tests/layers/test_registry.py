import importlib

import pytest
import torch
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.registry import DefaultScope

from pafu_acda_mm.layers import ACDA, PAFU

LAYER_CFGS = [dict(type='PAFU', num_kernels=8), dict(type='ACDA')]


@pytest.mark.parametrize('cfg', LAYER_CFGS)
def test_build_conv_layer_with_conv2d_arguments(cfg):
    layer = build_conv_layer(cfg, 4, 6, 3, stride=2, padding=1, dilation=1,
                             groups=2, bias=False)
    assert isinstance(layer, (PAFU, ACDA))
    assert (layer.in_channels, layer.out_channels) == (4, 6)
    assert layer.kernel_size == (3, 3) and layer.stride == (2, 2)
    assert layer.padding == (1, 1) and layer.dilation == (1, 1)
    assert layer.groups == 2 and layer.bias is None
    assert layer.transposed is False and layer.output_padding == (0, 0)
    assert layer(torch.randn(2, 4, 9, 9)).shape == (2, 6, 5, 5)


@pytest.mark.parametrize('cfg', LAYER_CFGS)
def test_conv_module_with_norm_and_act_keeps_the_layer_init(cfg):
    torch.manual_seed(0)
    own_init = build_conv_layer(cfg, 4, 8, 3, padding=1,
                                bias=False).weight.clone()
    torch.manual_seed(0)
    module = ConvModule(4, 8, 3, padding=1, conv_cfg=cfg,
                        norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'))
    assert torch.equal(module.conv.weight, own_init)
    assert module.with_bias is False and module.conv.bias is None
    out = module(torch.randn(2, 4, 7, 7))
    assert out.shape == (2, 8, 7, 7) and (out >= 0).all()
    out.sum().backward()
    assert module.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('scope', ['mmseg', 'mmpretrain', 'mmagic'])
@pytest.mark.parametrize('cfg', LAYER_CFGS)
def test_registry_round_trip_from_each_codebase_scope(scope, cfg):
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        layer = registry.build(
            dict(cfg, in_channels=3, out_channels=4, kernel_size=5,
                 padding=2))
        via_conv_cfg = build_conv_layer(cfg, 3, 4, 5, padding=2)
        module = registry.build(
            dict(type='ConvModule', in_channels=3, out_channels=4,
                 kernel_size=5, padding=2, conv_cfg=cfg,
                 norm_cfg=dict(type='BN')))
    expected = PAFU if cfg['type'] == 'PAFU' else ACDA
    assert type(layer) is type(via_conv_cfg) is type(module.conv) is expected
    assert module(torch.randn(1, 3, 6, 6)).shape == (1, 4, 6, 6)
