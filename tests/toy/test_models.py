import pytest
import torch
import torch.nn as nn
from mmengine.registry import MODELS

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.toy import (FCNN, KPN, PAPERS_PAIR_DIRAC_TOLERANCE,
                              PAPERS_PAIR_ZERO_TOLERANCE,
                              SADOptimalPAFUKernels, SingleLayer,
                              dirac_kernel, is_papers_kernel_pair)


def test_baselines_have_the_papers_parameter_budget():
    for network in (FCNN(), FCNN(residual=True), KPN()):
        count = sum(p.numel() for p in network.parameters())
        assert 34_000 < count < 37_000


def test_residual_fcnn_adds_its_input():
    plain, residual = FCNN(), FCNN(residual=True)
    residual.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 17, 19)
    assert torch.allclose(residual(x), x + plain(x))


def test_kpn_applies_each_pixels_predicted_kernel_to_every_channel():
    kpn = KPN(kernel_size=3)
    last = kpn.predictor[-1]
    nn.init.zeros_(last.weight)
    with torch.no_grad():
        # Kernel = 2 at the centre tap, 1 at the right neighbour.
        last.bias.copy_(torch.tensor([0, 0, 0, 0, 2., 1, 0, 0, 0]))
    x = torch.rand(2, 3, 8, 9)
    right = torch.nn.functional.pad(x, (0, 1))[..., 1:]
    assert torch.allclose(kpn(x), 2 * x + right, atol=1e-6)


@pytest.mark.parametrize('loss', ['l1', 'mse'])
def test_dense_regressor_modes(loss):
    model = MODELS.build(
        dict(
            type='DenseRegressor',
            network=dict(type='SingleLayer', conv_cfg=None, kernel_size=3),
            loss=loss))
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    out = model(x, y, mode='tensor')
    expected = (out - y).abs().mean() if loss == 'l1' else (out -
                                                            y).square().mean()
    assert torch.allclose(model(x, y, mode='loss')[f'loss_{loss}'], expected)
    samples = model(x, y, mode='predict')
    assert len(samples) == 2 and torch.equal(samples[1]['target'], y[1])
    with pytest.raises(ValueError, match='mode'):
        model(x, y, mode='nope')
    with pytest.raises(ValueError, match='loss'):
        MODELS.build(
            dict(
                type='DenseRegressor', network=dict(type='FCNN'),
                loss='huber'))


def test_pafu_regressor_adds_the_decorrelation_loss():
    network = dict(
        type='SingleLayer',
        conv_cfg=dict(type='PAFU', num_kernels=2),
        kernel_size=5)
    model = MODELS.build(
        dict(
            type='PAFUDenseRegressor',
            network=network,
            decorrelation_weight=0.5))
    x = torch.rand(1, 3, 9, 9)
    losses = model(x, x, mode='loss')
    assert torch.allclose(losses['loss_decorrelation'],
                          0.5 * model.network.conv.decorrelation_loss())
    with pytest.raises(ValueError, match='no PAFU'):
        MODELS.build(
            dict(type='PAFUDenseRegressor', network=dict(type='FCNN')))


def test_sad_optimal_kernels_give_the_input_or_zero_at_every_pixel():
    network = SingleLayer(dict(type='PAFU', num_kernels=2), kernel_size=5)
    SADOptimalPAFUKernels()(network)
    layer = network.conv
    assert torch.equal(layer.kernels[:3], dirac_kernel(layer))
    assert not layer.kernels[3:].any() and not layer.bias.any()
    x = torch.rand(2, 3, 12, 12)
    out, selection = layer.eval()(x, return_selection=True)
    keep = (selection == 0)[:, None].expand_as(x)
    assert torch.equal(out[keep], x[keep])
    assert not out[~keep].any()
    with pytest.raises(ValueError, match='Dirac'):
        dirac_kernel(PAFU(3, 4, 3))


def test_papers_pair_is_a_dirac_and_a_near_zero_kernel_in_either_order():
    layer = SingleLayer(dict(type='PAFU', num_kernels=2), kernel_size=5).conv
    assert not is_papers_kernel_pair(layer)  # the default init
    SADOptimalPAFUKernels()(layer)
    assert is_papers_kernel_pair(layer)
    weight = layer.weight.detach()
    weight.copy_(torch.cat([weight[3:], weight[:3]]))
    assert is_papers_kernel_pair(layer)
    # Just inside and just outside each tolerance, the bias aside.
    layer.bias.detach().fill_(1.0)
    noise = torch.randn_like(weight[:3])
    for scale, expected in ((0.99, True), (1.01, False)):
        weight[:3] = scale * PAPERS_PAIR_ZERO_TOLERANCE * noise / noise.norm()
        assert is_papers_kernel_pair(layer) == expected
    weight[:3] = 0
    for scale, expected in ((0.99, True), (1.01, False)):
        weight[3:] = dirac_kernel(layer) + (
            scale * PAPERS_PAIR_DIRAC_TOLERANCE * noise / noise.norm())
        assert is_papers_kernel_pair(layer) == expected
    with pytest.raises(ValueError, match='num_kernels=2'):
        is_papers_kernel_pair(PAFU(3, 3, 5, num_kernels=3))
