"""Mean absolute error of dense predictions, for the toy tasks."""
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module()
class MeanAbsoluteError(BaseMetric):
    """Mean over all pixels and samples of ``|pred - target|``.

    Expects the model's ``predict`` outputs ``dict(pred=Tensor,
    target=Tensor)``.
    """

    default_prefix = 'toy'

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            error = (sample['pred'] - sample['target']).abs()
            self.results.append((error.sum().item(), error.numel()))

    def compute_metrics(self, results: list) -> dict:
        total, count = map(sum, zip(*results))
        return dict(mae=total / count)
