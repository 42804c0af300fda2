"""An mmpretrain image classifier trained with PAFU's decorrelation loss."""
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS

from ..models import PAFUDecorrelationMixin


@MODELS.register_module()
class PAFUImageClassifier(PAFUDecorrelationMixin, ImageClassifier):
    """mmpretrain's ``ImageClassifier`` whose losses include PAFU's kernel
    decorrelation regulariser (see :class:`PAFUDecorrelationMixin`).

    Args:
        decorrelation_weight (float): Weight of ``loss_decorrelation``.
            Default: 1.0.
        **kwargs: ``ImageClassifier``'s arguments; the model must contain
            at least one PAFU.
    """
