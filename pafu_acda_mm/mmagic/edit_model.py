"""An mmagic edit model trained with PAFU's decorrelation loss."""
from typing import Dict, List, Optional

import torch
from mmagic.models import BaseEditModel
from mmagic.registry import MODELS
from mmagic.structures import DataSample

from ..models import PAFUDecorrelationMixin


@MODELS.register_module()
class PAFUEditModel(PAFUDecorrelationMixin, BaseEditModel):
    """mmagic's ``BaseEditModel`` whose training losses include PAFU's
    kernel decorrelation regulariser (see :class:`PAFUDecorrelationMixin`).

    The pixel loss is logged as ``loss_pix`` (as mmagic's TDAN and SRGAN
    do), so that ``loss`` in the logs is the total.

    Args:
        decorrelation_weight (float): Weight of ``loss_decorrelation``.
            Default: 1.0.
        **kwargs: ``BaseEditModel``'s arguments; the generator must contain
            at least one PAFU.
    """

    def forward_train(self,
                      inputs: torch.Tensor,
                      data_samples: Optional[List[DataSample]] = None,
                      **kwargs) -> Dict[str, torch.Tensor]:
        """The losses of a training batch.

        Args:
            inputs (Tensor): ``(B, C, h, w)`` preprocessed inputs.
            data_samples (DataSample): The stacked samples, with ``gt_img``.

        Returns:
            dict[str, Tensor]: ``loss_pix`` and ``loss_decorrelation``.
        """
        losses = super().forward_train(inputs, data_samples, **kwargs)
        return self.add_decorrelation_loss(dict(loss_pix=losses['loss']))
