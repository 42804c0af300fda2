import pytest
import torch

from pafu_acda_mm.ops import selected_conv_cpu
from pafu_acda_mm.ops.window_products import (MAX_WINDOW,
                                              can_fuse_window_products,
                                              window_products)


def test_fused_products_equal_the_chunked_ones_over_several_blocks():
    # 64 channels, 3x3: 200 pixels per kernel, two blocks of 100 each.
    torch.manual_seed(0)
    x = torch.randn(2, 64, 20, 20)
    weight = torch.randn(4 * 32, 64, 3, 3).contiguous(
        memory_format=torch.channels_last)
    bias = torch.randn(4 * 32)
    index = torch.arange(800).remainder(4).view(2, 20, 20)
    args = (x, weight, bias, index, 4, (1, 1), (1, 1), (1, 1), 1)
    assert can_fuse_window_products(x, 9 * 64, 1)
    fused = selected_conv_cpu.indexed_conv2d(*args)
    chunked = selected_conv_cpu._sorted_products(*args[:-1], groups=1)
    assert torch.allclose(
        fused.permute(0, 2, 3, 1).reshape(-1, 32), chunked, atol=1e-4)


def test_fused_only_for_one_group_of_short_float_windows():
    x = torch.zeros(1)
    assert can_fuse_window_products(x.double(), MAX_WINDOW, 1)
    assert not can_fuse_window_products(x, MAX_WINDOW + 1, 1)
    assert not can_fuse_window_products(x, 9, 2)
    assert not can_fuse_window_products(x.bfloat16(), 9, 1)


def _args(**changes):
    args = dict(rows=torch.randn(10, 2), base=torch.tensor([0, 5]),
                taps=torch.tensor([0, 1, 4]), index=torch.tensor([0, 1]),
                weight=torch.randn(2, 3, 6), bias=None)
    return {**args, **changes}


def test_window_products_are_each_pixels_kernel_times_its_window():
    args = _args(bias=torch.randn(2, 3))
    out = window_products(**args)
    rows, weight, bias = args['rows'], args['weight'], args['bias']
    for pixel, (first, kernel) in enumerate([(0, 0), (5, 1)]):
        window = rows[first + args['taps']].flatten()
        assert torch.allclose(out[pixel],
                              weight[kernel] @ window + bias[kernel])


@pytest.mark.parametrize('changes, message', [
    (dict(index=torch.tensor([0, 2])), r'index must be in \[0, 2\), got 2'),
    (dict(base=torch.tensor([0, 6])), r'outside \[0, 10\)'),
    (dict(weight=torch.randn(2, 3, 4)), 'taps \\* channels = 6, got 4'),
    (dict(index=torch.tensor([0, 1], dtype=torch.int32)), 'int64'),
    (dict(bias=torch.empty(2, 3, device='meta')), 'contiguous CPU'),
])
def test_window_products_reject_bad_input(changes, message):
    with pytest.raises(RuntimeError, match=message):
        window_products(**_args(**changes))
