import pytest
import torch
import torch.nn as nn

from pafu_acda_mm.engine import AdaptivityRecorder, acda_scale_weights
from pafu_acda_mm.layers import ACDA, PAFU


def test_acda_scale_weights_follow_the_coefficient_layout():
    layer = ACDA(2, 2, 7, num_atoms=2)  # scales 3/5/7, 6 bases each
    coeffs = torch.zeros(1, 2 * 3 * 6, 2, 2)
    coeffs[0, 1 * 18 + 2 * 6 + 5, 0, 0] = -3.0  # atom 1, scale 2 (7x7)
    coeffs[0, 0 * 18 + 0 * 6 + 1, 0, 1] = 1.0  # atom 0, scale 0 (3x3)
    coeffs[0, 1 * 18 + 1 * 6 + 0, 0, 1] = 1.0  # atom 1, scale 1 (5x5)
    weights = acda_scale_weights(layer, coeffs)
    assert weights.shape == (1, 3, 2, 2)
    assert weights[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]
    assert weights[0, :, 0, 1].tolist() == [0.5, 0.5, 0.0]
    assert weights[0, :, 1, 1].tolist() == [0.0, 0.0, 0.0]  # no mass


def test_recorder_sees_what_the_layers_choose_and_removes_its_hooks():
    model = nn.Sequential(PAFU(3, 4, 3, padding=1, num_kernels=4),
                          ACDA(4, 4, 5, stride=2, padding=2)).eval()
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad(), AdaptivityRecorder(model) as recorder:
        model(x)
        model(x)
    selections, scale_weights = recorder.pop()
    _, expected = model[0](x, return_selection=True)
    assert len(selections['0']) == 2
    assert torch.equal(selections['0'][0], expected)
    assert scale_weights['1'][0].shape == (2, 2, 5, 5)
    assert torch.allclose(scale_weights['1'][0].sum(1), torch.ones(2, 5, 5))
    assert recorder.pop() == ({}, {})
    model(x)
    assert recorder.pop() == ({}, {})  # hooks removed on exit


def test_recorder_refuses_training_mode_selections():
    model = nn.Sequential(PAFU(3, 4, 3, padding=1, num_kernels=2)).train()
    with AdaptivityRecorder(model), pytest.raises(RuntimeError,
                                                  match='model.eval'):
        model(torch.randn(1, 3, 5, 5))
