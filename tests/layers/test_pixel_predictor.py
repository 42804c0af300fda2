import pytest
import torch
import torch.nn as nn

from pafu_acda_mm.layers.pixel_predictor import PixelPredictor

GEOMETRIES = [
    dict(kernel_size=3, stride=1, padding=1, dilation=1),
    dict(kernel_size=7, stride=2, padding=3, dilation=1),
    dict(kernel_size=5, stride=3, padding=0, dilation=1),
    dict(kernel_size=3, stride=2, padding=2, dilation=2),
    dict(kernel_size=5, stride=1, padding=4, dilation=2),
]


def _predict(predictor: PixelPredictor, x: torch.Tensor, geometry: dict):
    pair = {name: (value, value) for name, value in geometry.items()}
    return predictor(x, pair['kernel_size'], pair['stride'], pair['padding'],
                     pair['dilation'])


def _linear_predictor(strided_reduce: bool, reduce_kernel_size: int):
    """One channel in and out, all-ones weights, zero biases: on a positive
    input every output depends on exactly the pixels it reads."""
    predictor = PixelPredictor(1, 1, mid_channels=1,
                               reduce_kernel_size=reduce_kernel_size,
                               strided_reduce=strided_reduce).double()
    for parameter in predictor.parameters():
        nn.init.ones_(parameter) if parameter.dim() > 1 else nn.init.zeros_(
            parameter)
    return predictor


@pytest.mark.parametrize('strided_reduce', [False, True])
@pytest.mark.parametrize('size', [(17, 17), (16, 13)])
@pytest.mark.parametrize('geometry', GEOMETRIES)
def test_output_grid_is_the_host_convs(geometry, size, strided_reduce):
    predictor = PixelPredictor(2, 4, reduce_kernel_size=3,
                               strided_reduce=strided_reduce)
    x = torch.randn(1, 2, *size)
    expected = nn.Conv2d(2, 4, **geometry)(x).shape[-2:]
    assert _predict(predictor, x, geometry).shape == (1, 4, *expected)


@pytest.mark.parametrize('strided_reduce, reduce_kernel_size', [
    (False, 1), (False, 3), (True, 3)])
@pytest.mark.parametrize('geometry', GEOMETRIES)
def test_each_output_sees_the_neighbourhood_centred_on_its_window(
        geometry, strided_reduce, reduce_kernel_size):
    predictor = _linear_predictor(strided_reduce, reduce_kernel_size)
    x = torch.ones(1, 1, 41, 41, dtype=torch.float64, requires_grad=True)
    out = _predict(predictor, x, geometry)
    stride, k = geometry['stride'], geometry['kernel_size']
    width = (stride * 2 + reduce_kernel_size if strided_reduce else
             reduce_kernel_size + 2)
    for i in range(out.shape[-2]):
        centre = (i * stride - geometry['padding'] +
                  geometry['dilation'] * (k // 2))
        # Interior pixels only: there the whole neighbourhood is inside x.
        if not width // 2 <= centre < x.shape[-1] - width // 2:
            continue
        grad, = torch.autograd.grad(out[0, 0, i, i], x, retain_graph=True)
        rows = grad[0, 0].abs().sum(1).nonzero().flatten()
        cols = grad[0, 0].abs().sum(0).nonzero().flatten()
        for reached in (rows, cols):
            assert reached.min() + reached.max() == 2 * centre
            assert reached.max() - reached.min() + 1 == width


def test_strided_reduce_runs_both_convs_at_the_output_resolution():
    predictor = PixelPredictor(3, 2, reduce_kernel_size=3,
                               strided_reduce=True)
    sizes = []
    predictor.reduce[1].register_forward_hook(
        lambda module, args, out: sizes.append(out.shape[-2:]))
    out = _predict(predictor, torch.randn(1, 3, 28, 28),
                   dict(kernel_size=7, stride=2, padding=3, dilation=1))
    assert out.shape[-2:] == (14, 14)
    assert sizes == [(16, 16)]  # the output plus the predict conv's border
