import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from pafu_acda_mm.engine.flops import acda_complexity, adaptive_flop_analyzer
from pafu_acda_mm.layers import ACDA, PAFU

C_IN, C_OUT, SIZE = 8, 6, 12


def _analyze(module, channels=C_IN, size=SIZE):
    module.eval()
    return adaptive_flop_analyzer(module,
                                  (torch.randn(1, channels, size, size), ))


@pytest.mark.parametrize('kernel_size, groups', [(3, 1), ((3, 5), 2)])
def test_pafu_counts_one_kernel_per_pixel_plus_its_selector(
        kernel_size, groups):
    layer = PAFU(C_IN, C_OUT, kernel_size, padding='same', groups=groups,
                 num_kernels=4)
    analyzer = _analyze(layer)
    kh, kw = layer.kernel_size
    assert analyzer.by_operator()['selected_conv'] == (
        C_OUT * C_IN // groups * kh * kw * SIZE * SIZE)
    assert analyzer.total() == (analyzer.by_operator()['selected_conv'] +
                                analyzer.total('selector'))
    assert analyzer.total('selector') > 0
    assert not any('selected_conv2d' in op
                   for op in analyzer.unsupported_ops())


@pytest.mark.parametrize('kernel_size', [3, 5, 7])
def test_acda_split_follows_the_layer_structure(kernel_size):
    """Paper 4.4's terms, as this implementation computes them."""
    layer = ACDA(C_IN, C_OUT, kernel_size, padding=kernel_size // 2)
    num_atoms, per_scale = layer.num_atoms, layer.fb_bases[0].shape[0]
    scales = layer.scales
    analyzer = _analyze(layer)
    split = acda_complexity(layer, analyzer)['']
    pixels = SIZE * SIZE
    assert split['flops'] == dict(
        atom_conv=pixels * C_IN * per_scale *
        (sum(s * s for s in scales) + len(scales) * num_atoms),
        coefficient_conv=pixels * C_OUT * num_atoms * C_IN,
        atom_generation=analyzer.total('atom_generator'))
    coefficients = num_atoms * len(scales) * per_scale
    # 1x1 conv to 64 on the input padded by one pixel, 3x3 conv to alpha.
    assert split['flops']['atom_generation'] == (
        (SIZE + 2)**2 * C_IN * 64 + pixels * 64 * coefficients * 9)
    assert sum(split['flops'].values()) == analyzer.total()
    assert split['params'] == dict(
        atom_conv=0,
        coefficient_conv=C_OUT * C_IN * num_atoms + C_OUT,
        atom_generation=(C_IN * 64 + 64) + (64 * 9 + 1) * coefficients)


def test_plain_conv_count_is_the_papers_conv_term_without_bias():
    analyzer = _analyze(nn.Conv2d(C_IN, C_OUT, 5, padding=2))
    assert analyzer.total() == C_OUT * SIZE * SIZE * C_IN * 25


def test_acda_split_is_found_inside_conv_modules():
    model = nn.Sequential(
        ConvModule(C_IN, C_IN, 3, padding=1, conv_cfg=dict(type='ACDA')),
        ConvModule(C_IN, C_OUT, 5, padding=2, conv_cfg=dict(type='ACDA')))
    analyzer = _analyze(model)
    split = acda_complexity(model, analyzer)
    assert list(split) == ['0.conv', '1.conv']
    assert sum(sum(s['flops'].values())
               for s in split.values()) == analyzer.total()
