import pytest
import torch
import torch.nn as nn

from pafu_acda_mm.layers import ACDA, PAFU
from pafu_acda_mm.models import build_conv_like


@pytest.mark.parametrize('stride, padding, dilation', [(1, 1, 1), (2, 1, 1),
                                                       (2, 2, 2), (1, 0, 1)])
@pytest.mark.parametrize('conv_cfg, kernel_size', [
    (dict(type='PAFU', num_kernels=4), None),
    (dict(type='ACDA'), 7),
    (dict(type='ACDA'), 5),
])
def test_replacement_keeps_geometry_and_output_grid(stride, padding,
                                                    dilation, conv_cfg,
                                                    kernel_size):
    conv = nn.Conv2d(4, 6, 3, stride, padding, dilation, groups=2,
                     bias=False)
    new = build_conv_like(conv, conv_cfg, kernel_size)
    assert isinstance(new, (PAFU, ACDA))
    assert (new.in_channels, new.out_channels, new.groups) == (4, 6, 2)
    assert new.stride == conv.stride and new.dilation == conv.dilation
    assert new.kernel_size == (kernel_size or 3, ) * 2
    assert new.bias is None
    x = torch.randn(2, 4, 11, 13)
    assert new(x).shape == conv(x).shape


def test_replacement_keeps_bias_presence():
    conv = nn.Conv2d(3, 3, 3, padding=1)
    assert build_conv_like(conv, dict(type='PAFU')).bias is not None


@pytest.mark.parametrize('kernel_size', [4, 0, 2.0])
def test_kernel_size_of_other_parity_is_refused(kernel_size):
    with pytest.raises(ValueError, match='kernel_size'):
        build_conv_like(nn.Conv2d(3, 3, 3), dict(type='ACDA'), kernel_size)


@pytest.mark.parametrize('padding', ['same', 'valid'])
def test_string_padding_and_padding_mode_are_kept(padding):
    conv = nn.Conv2d(3, 4, 3, padding=padding, padding_mode='reflect')
    new = build_conv_like(conv, dict(type='ACDA'), 5)
    assert new.padding_mode == 'reflect'
    x = torch.randn(1, 3, 9, 8)
    assert new(x).shape == conv(x).shape


def test_rectangular_kernel_is_kept_and_cannot_change_size():
    conv = nn.Conv2d(3, 4, (1, 3), padding=(0, 1))
    new = build_conv_like(conv, dict(type='PAFU', num_kernels=2))
    assert new.kernel_size == (1, 3)
    x = torch.randn(1, 3, 6, 7)
    assert new(x).shape == conv(x).shape
    with pytest.raises(ValueError, match='square kernel'):
        build_conv_like(conv, dict(type='PAFU'), 3)
