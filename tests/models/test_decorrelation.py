import pytest
import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer

from pafu_acda_mm.layers import pafu_decorrelation_loss
from pafu_acda_mm.models import PAFUDecorrelationMixin


class TwoConvRegressor(nn.Module):
    """A host model with an OpenMMLab-style ``loss()`` returning a dict."""

    def __init__(self, conv_cfg=None):
        super().__init__()
        self.conv1 = build_conv_layer(conv_cfg, 3, 4, 3, padding=1)
        self.conv2 = build_conv_layer(conv_cfg, 4, 2, 3, padding=1)

    def loss(self, inputs, target):
        out = self.conv2(self.conv1(inputs).relu())
        return dict(loss_l2=(out - target).pow(2).mean())


class RegularisedRegressor(PAFUDecorrelationMixin, TwoConvRegressor):
    pass


PAFU_CFG = dict(type='PAFU', num_kernels=4)


def test_loss_gains_the_weighted_average_decorrelation_of_every_pafu():
    model = RegularisedRegressor(PAFU_CFG, decorrelation_weight=0.5)
    losses = model.loss(torch.randn(2, 3, 8, 8), torch.randn(2, 2, 8, 8))
    assert set(losses) == {'loss_l2', 'loss_decorrelation'}
    expected = 0.5 * (model.conv1.decorrelation_loss() +
                      model.conv2.decorrelation_loss()) / 2
    assert torch.allclose(losses['loss_decorrelation'], expected)
    assert losses['loss_decorrelation'] > 0


def test_decorrelation_gradient_reaches_every_pafu_kernel():
    model = RegularisedRegressor(PAFU_CFG)
    losses = model.loss(torch.randn(2, 3, 8, 8), torch.randn(2, 2, 8, 8))
    losses['loss_decorrelation'].backward()
    for conv in (model.conv1, model.conv2):
        per_kernel = conv.weight.grad.reshape(conv.num_kernels, -1)
        assert (per_kernel.abs().sum(1) > 0).all()
        # the regulariser does not touch the selector
        assert all(p.grad is None for p in conv.selector.parameters())


def test_mixin_keeps_the_host_state_dict():
    torch.manual_seed(0)
    host = TwoConvRegressor(PAFU_CFG)
    torch.manual_seed(0)
    model = RegularisedRegressor(PAFU_CFG)
    assert list(model.state_dict()) == list(host.state_dict())
    model.load_state_dict(host.state_dict())


def test_model_without_pafu_fails_when_built():
    with pytest.raises(ValueError, match='no PAFU module'):
        RegularisedRegressor(None)
    with pytest.raises(ValueError, match='no PAFU module'):
        pafu_decorrelation_loss(TwoConvRegressor(dict(type='ACDA')))


@pytest.mark.parametrize('weight', [-1.0, 'high', True, float('nan'), float('inf')])
def test_bad_decorrelation_weight_is_refused(weight):
    with pytest.raises(ValueError, match='decorrelation_weight'):
        RegularisedRegressor(PAFU_CFG, decorrelation_weight=weight)
