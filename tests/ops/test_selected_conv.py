import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.ops import (indexed_conv2d, selected_conv, selected_conv2d,
                              selected_conv_torch)
from pafu_acda_mm.torch_compat import TORCH_VERSION

needs_custom_op = pytest.mark.skipif(
    TORCH_VERSION < (2, 4),
    reason='torch.library.custom_op is torch 2.4+; before, plain functions')


def _operands(groups=1, channels_last=False):
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(3 * 6, 4 // groups, 3, 3, dtype=torch.float64)
    bias = torch.randn(3 * 6, dtype=torch.float64)
    index = torch.randint(3, (2, 7, 6))
    return x, weight, bias, index


@needs_custom_op
@pytest.mark.parametrize('groups,channels_last,path', [(1, False, 'cpu'),
                                                       (2, True, 'cpu'),
                                                       (2, True, 'torch')])
def test_ops_pass_torch_library_checks(groups, channels_last, path,
                                       monkeypatch):
    """Schemas, fake tensors (shapes and strides as computed), autograd
    registration and compiled autograd, as ``torch.library.opcheck`` checks
    them; ``path`` computes the CPU tensors (``torch``: CUDA's path without
    Triton)."""
    if path == 'torch':
        monkeypatch.setattr(selected_conv, 'implementation',
                            lambda device: selected_conv_torch)
    x, weight, bias, index = _operands(groups, channels_last)
    args = ([1, 1], [1, 1], [1, 1], groups)
    selection = F.one_hot(index, 3).permute(0, 3, 1, 2).to(x)
    ops = torch.ops.pafu_acda_mm
    torch.library.opcheck(ops.indexed_conv2d, (x, weight, bias, index, 3,
                                               *args))
    torch.library.opcheck(
        ops.selected_conv2d,
        (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_(),
         selection.requires_grad_(), *args))
    grad_out = torch.randn(2, 6, 7, 6, dtype=torch.float64)
    torch.library.opcheck(
        ops.selected_conv2d_backward,
        (grad_out, x.detach(), weight.detach(), bias.detach(), index, 3,
         *args, [True, False, True, True]))


@needs_custom_op
def test_exported_pafu_shows_one_selected_conv_op():
    layer = PAFU(4, 6, 3, padding=1, num_kernels=3).eval()
    x = torch.randn(1, 4, 8, 8)
    exported = torch.export.export(layer, (x, ))
    targets = [str(node.target) for node in exported.graph.nodes]
    assert [t for t in targets if t.startswith('pafu_acda_mm.')] == [
        'pafu_acda_mm.selected_conv2d.default'
    ]
    torch.testing.assert_close(exported.module()(x), layer(x), rtol=0,
                               atol=0)


def test_selected_and_indexed_forwards_agree():
    x, weight, bias, index = _operands()
    selection = F.one_hot(index, 3).permute(0, 3, 1, 2).to(x)
    out = selected_conv2d(x, weight, bias, selection, padding=(1, 1))
    assert torch.equal(
        out, indexed_conv2d(x, weight, bias, index, 3, padding=(1, 1)))
    assert out.shape == (2, 6, 7, 6)


def test_other_devices_are_refused_by_name():
    with pytest.raises(NotImplementedError, match='cpu and cuda .* mps'):
        selected_conv.implementation(torch.device('mps'))
