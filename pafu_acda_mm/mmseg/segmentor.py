"""An mmseg encoder-decoder trained with PAFU's decorrelation loss."""
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from ..models import PAFUDecorrelationMixin


@MODELS.register_module()
class PAFUEncoderDecoder(PAFUDecorrelationMixin, EncoderDecoder):
    """mmseg's ``EncoderDecoder`` whose losses include PAFU's kernel
    decorrelation regulariser (see :class:`PAFUDecorrelationMixin`).

    Args:
        decorrelation_weight (float): Weight of ``loss_decorrelation``.
            Default: 1.0.
        **kwargs: ``EncoderDecoder``'s arguments; the model must contain at
            least one PAFU.
    """
