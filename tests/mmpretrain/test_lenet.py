import pytest
import torch
import torch.nn as nn

from pafu_acda_mm.layers import ACDA
from pafu_acda_mm.mmpretrain import LeNet


def test_plain_lenet_is_the_classic_cifar_lenet():
    model = LeNet(num_classes=10)
    assert sum(p.numel() for p in model.parameters()) == 62_006
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs
            ] == [(3, 6, (5, 5)), (6, 16, (5, 5))]
    logits, = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)


def test_lenet_acda_replaces_both_convolutions():
    model = LeNet(num_classes=100, conv_cfg=dict(type='ACDA'))
    acdas = [m for m in model.features if isinstance(m, ACDA)]
    assert len(acdas) == 2
    assert all(a.kernel_size == (5, 5) and a.scales == (3, 5) for a in acdas)
    assert not any(
        type(m) is nn.Conv2d for m in model.features
        if not isinstance(m, ACDA))
    logits, = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 100)
    logits.logsumexp(1).sum().backward()
    for acda in acdas:
        assert acda.weight.grad.abs().sum() > 0
        assert acda.atom_generator.predict.weight.grad.abs().sum() > 0


def test_features_without_classifier():
    features, = LeNet(conv_cfg=dict(type='ACDA'))(torch.randn(2, 3, 32, 32))
    assert features.shape == (2, 16, 5, 5)


@pytest.mark.parametrize('num_classes', [0, -2, 10.0])
def test_bad_num_classes_is_refused(num_classes):
    with pytest.raises(ValueError, match='num_classes must be a positive '
                       'int or -1'):
        LeNet(num_classes=num_classes)
