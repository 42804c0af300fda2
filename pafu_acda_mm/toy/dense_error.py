"""Mean absolute and mean squared error of dense predictions."""
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module()
class DenseError(BaseMetric):
    """``mae`` and ``mse``: means over all pixels, channels and samples.

    Expects the model's ``predict`` outputs ``dict(pred=Tensor,
    target=Tensor)`` of equal shapes.
    """

    default_prefix = 'toy'

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            error = (sample['pred'] - sample['target']).double()
            self.results.append(
                (error.abs().sum().item(), error.square().sum().item(),
                 error.numel()))

    def compute_metrics(self, results: list) -> dict:
        abs_total, square_total, count = map(sum, zip(*results))
        return dict(mae=abs_total / count, mse=square_total / count)
