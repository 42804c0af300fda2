import pytest
import torch

from pafu_acda_mm.layers import ACDA, PAFU
from pafu_acda_mm.toy import CentreDetection, DenseError
from pafu_acda_mm.toy.equivariance import shift_equivariance_error


def test_dense_error_averages_over_every_pixel_of_every_sample():
    metric = DenseError()
    metric.process({}, [
        dict(pred=torch.zeros(1, 2, 2), target=torch.ones(1, 2, 2)),
        dict(pred=torch.full((1, 2, 2), 3.), target=torch.zeros(1, 2, 2)),
    ])
    assert metric.compute_metrics(metric.results) == dict(mae=2.0, mse=5.0)


def test_centre_detection_counts_hits_and_false_positives():
    target = torch.zeros(1, 5, 5)
    target[0, 1, 1] = target[0, 3, 3] = 1
    pred = torch.zeros(1, 5, 5)
    pred[0, 1, 1] = 0.9  # hit
    pred[0, 3, 3] = 0.4  # miss
    pred[0, 0, 4] = pred[0, 4, 0] = 0.6  # false positives
    metric = CentreDetection(threshold=0.5)
    metric.process({}, [dict(pred=pred, target=target)] * 2)
    assert metric.compute_metrics(metric.results) == dict(
        recall=0.5, false_positives=2.0)


@pytest.mark.parametrize('layer', [
    torch.nn.Conv2d(1, 1, 7, padding=3),
    ACDA(1, 1, 7, padding=3),
    PAFU(1, 1, 7, padding=3, num_kernels=4).eval(),
])
def test_convolutional_layers_follow_a_shift_exactly(layer):
    x = torch.rand(1, 1, 60, 60)
    moved = torch.zeros_like(x)
    moved[..., 20:, 20:] = x[..., :40, :40]
    with torch.no_grad():
        error = shift_equivariance_error(
            layer(x), layer(moved), (20, 20), margin=4)
    assert error < 1e-6


def test_equivariance_error_sees_a_position_dependent_map():
    x = torch.rand(1, 1, 30, 30)
    ramp = torch.arange(30.).view(1, 1, 1, 30)
    moved = torch.roll(x, (5, 5), dims=(-2, -1))
    assert shift_equivariance_error(x + ramp, moved + ramp, (5, 5), 0) > 1
    with pytest.raises(ValueError, match='away from the borders'):
        shift_equivariance_error(x, moved, (5, 5), margin=13)
