import pytest
import torch

from pafu_acda_mm.layers import gumbel_argmax, straight_through_gumbel_softmax


def test_forward_is_exactly_one_hot_and_backward_is_soft():
    logits = torch.randn(2, 5, 4, 4, requires_grad=True)
    selection = straight_through_gumbel_softmax(logits, tau=0.5)
    assert set(selection.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(selection.sum(1), torch.ones(2, 4, 4))
    weights = torch.randn_like(selection)
    (selection * weights).sum().backward()
    # The gradient of a softmax sums to zero over the selected dimension and
    # is non-zero: it reaches every logit.
    assert torch.allclose(logits.grad.sum(1), torch.zeros(2, 4, 4),
                          atol=1e-6)
    assert (logits.grad != 0).all()


def test_without_sampling_is_deterministic_argmax():
    logits = torch.randn(3, 7, 5, 5)
    first = straight_through_gumbel_softmax(logits, sample=False)
    second = straight_through_gumbel_softmax(logits, sample=False)
    assert torch.equal(first, second)
    assert torch.equal(first.argmax(1), logits.argmax(1))


@pytest.mark.parametrize('sample', [True, False])
def test_gumbel_argmax_selects_what_the_one_hot_selects(sample):
    logits = torch.randn(2, 6, 7, 5)
    torch.manual_seed(1)
    one_hot = straight_through_gumbel_softmax(logits, sample=sample)
    torch.manual_seed(1)
    index = gumbel_argmax(logits, sample=sample)
    assert index.dtype == torch.int64 and index.shape == (2, 7, 5)
    assert torch.equal(index, one_hot.argmax(1))
    if sample:  # the noise changes some choices: the test sees it
        assert not torch.equal(index, logits.argmax(1))


def test_sampling_follows_softmax_probabilities():
    logits = torch.tensor([0.0, 1.0, 2.0]).view(1, 3, 1, 1).expand(
        20000, 3, 1, 1)
    frequencies = straight_through_gumbel_softmax(logits).mean((0, 2, 3))
    assert torch.allclose(frequencies, logits[0, :, 0, 0].softmax(0),
                          atol=0.015)


@pytest.mark.parametrize('dtype,magnitude', [(torch.float16, 6e4),
                                             (torch.bfloat16, 1e30)])
def test_low_precision_large_logits_stay_finite(dtype, magnitude):
    logits = (torch.randn(2, 4, 8, 8) * magnitude).to(dtype)
    logits.requires_grad_()
    selection = straight_through_gumbel_softmax(logits, tau=0.1)
    assert selection.dtype == dtype
    assert torch.equal(selection.sum(1), torch.ones(2, 8, 8, dtype=dtype))
    selection.float().pow(2).sum().backward()
    assert torch.isfinite(logits.grad.float()).all()
