import pytest
import torch
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from pafu_acda_mm.layers import pafu_decorrelation_loss
from pafu_acda_mm.mmagic import PAFUEditModel

GENERATOR = dict(type='LinearPAFUSRNet', upscale_factor=2)
PIXEL_LOSS = dict(type='L1Loss', loss_weight=1.0, reduction='mean')


def build(type='PAFUEditModel', generator=GENERATOR, **kwargs):
    return MODELS.build(
        dict(type=type, generator=generator, pixel_loss=PIXEL_LOSS,
             **kwargs))


@pytest.mark.parametrize('weight', [1.0, 0.25])
def test_losses_are_the_pixel_loss_and_the_weighted_regulariser(weight):
    model = build(decorrelation_weight=weight)
    assert isinstance(model, PAFUEditModel)
    upstream = build(type='BaseEditModel')
    upstream.load_state_dict(model.state_dict())
    inputs = torch.rand(2, 3, 6, 7)
    samples = DataSample(gt_img=torch.rand(2, 3, 12, 14))

    torch.manual_seed(1)  # the same Gumbel noise for both
    losses = model(inputs, samples, mode='loss')
    torch.manual_seed(1)
    expected = upstream(inputs, samples, mode='loss')['loss']

    assert list(losses) == ['loss_pix', 'loss_decorrelation']
    torch.testing.assert_close(losses['loss_pix'], expected)
    torch.testing.assert_close(
        losses['loss_decorrelation'],
        weight * pafu_decorrelation_loss(model.generator))
    total, log_vars = model.parse_losses(losses)
    torch.testing.assert_close(log_vars['loss'], total)
    torch.testing.assert_close(total,
                               expected + losses['loss_decorrelation'])


def test_regulariser_gradient_reaches_the_kernels():
    model = build()
    losses = model(torch.rand(1, 3, 5, 5),
                   DataSample(gt_img=torch.rand(1, 3, 10, 10)), mode='loss')
    losses['loss_decorrelation'].backward()
    assert model.generator.pafu.weight.grad.abs().sum() > 0


def test_checkpoints_are_upstream_ones():
    assert set(build().state_dict()) == set(
        build(type='BaseEditModel').state_dict())


def test_a_generator_without_pafu_is_refused_when_built():
    with pytest.raises(ValueError, match='PAFUEditModel has no PAFU module'):
        build(generator=dict(type='ESPCNNet'))

