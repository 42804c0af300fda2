"""Detection scores of a predicted centre map (pattern detection task)."""
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module()
class CentreDetection(BaseMetric):
    """Threshold the predicted map and compare it with the binary target.

    ``recall``: share of the target's centres predicted above the
    threshold. ``false_positives``: pixels above the threshold that are not
    centres, per map.

    Args:
        threshold (float): Detection threshold. Default: 0.5.

    Expects the model's ``predict`` outputs ``dict(pred=Tensor,
    target=Tensor)`` with a binary target.
    """

    default_prefix = 'toy'

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            detected = sample['pred'] > self.threshold
            centres = sample['target'] > 0.5
            self.results.append(
                ((detected & centres).sum().item(), centres.sum().item(),
                 (detected & ~centres).sum().item()))

    def compute_metrics(self, results: list) -> dict:
        hits, centres, false_positives = map(sum, zip(*results))
        return dict(
            recall=hits / max(centres, 1),
            false_positives=false_positives / len(results))
