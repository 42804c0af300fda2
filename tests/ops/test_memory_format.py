import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.layers import ACDA, PAFU
from pafu_acda_mm.ops.memory_format import (memory_format_of,
                                               to_channels_last)

FORMATS = pytest.mark.parametrize(
    'memory_format', [torch.contiguous_format, torch.channels_last])


def input_of_format(memory_format, shape=(2, 3, 4, 5)) -> torch.Tensor:
    """A non-leaf input: a leaf's ``.grad`` always takes the leaf's layout,
    whatever layout the gradient arrived in."""
    leaf = torch.randn(shape).contiguous(
        memory_format=memory_format).requires_grad_()
    return leaf * 1


@FORMATS
def test_channels_last_copy_returns_the_gradient_in_the_input_format(
        memory_format):
    x = input_of_format(memory_format)
    y = to_channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    # A gradient that arrives channels-last, as oneDNN's convolutions give.
    grad = torch.randn(2, 3, 4, 5).contiguous(
        memory_format=torch.channels_last)
    (x_grad, ) = torch.autograd.grad(y, x, grad)
    assert memory_format_of(x_grad) == memory_format
    assert torch.equal(x_grad, grad)


@FORMATS
@pytest.mark.parametrize('padding', [(0, 0), (2, 1)])
# 32x32 fp32 planes are 4 KiB apart: copied per image (memory_format.py).
@pytest.mark.parametrize('size', [(4, 5), (32, 32)])
def test_padded_channels_last_copy_equals_zero_padding_with_gradient(
        memory_format, padding, size):
    x = input_of_format(memory_format, (2, 3, *size))
    y = to_channels_last(x, padding)
    assert y.is_contiguous(memory_format=torch.channels_last)
    pad_h, pad_w = padding
    assert torch.equal(y, F.pad(x, [pad_w, pad_w, pad_h, pad_h]))
    grad = torch.randn(y.shape).contiguous(memory_format=torch.channels_last)
    (x_grad, ) = torch.autograd.grad(y, x, grad)
    assert memory_format_of(x_grad) == memory_format
    assert torch.equal(
        x_grad, grad[..., pad_h:pad_h + size[0], pad_w:pad_w + size[1]])


@FORMATS
@pytest.mark.parametrize('layer', [
    PAFU(8, 8, 3, padding=1, num_kernels=4),
    ACDA(8, 8, 7, padding=3),
],
                         ids=['PAFU', 'ACDA'])
def test_layers_return_the_input_gradient_in_the_input_format(
        layer, memory_format):
    # A gradient in the other format would make the backward of the layer
    # before run on mixed formats.
    x = input_of_format(memory_format, (2, 8, 9, 10))
    (x_grad, ) = torch.autograd.grad(layer(x).sum(), x)
    assert memory_format_of(x_grad) == memory_format
