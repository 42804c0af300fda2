"""The model of the toy tasks: a network regressed on a dense target."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS

from ..models import PAFUDecorrelationMixin

_LOSSES = dict(l1=F.l1_loss, mse=F.mse_loss)


@MODELS.register_module()
class DenseRegressor(BaseModel):
    """``network(inputs)`` trained to equal a dense ``target``.

    Args:
        network (dict): Config of the network, e.g. ``dict(type='FCNN')`` or
            ``dict(type='SingleLayer', conv_cfg=dict(type='ACDA'),
            kernel_size=7, in_channels=1, out_channels=1)``.
        loss (str): ``'l1'`` (SAD, PAFU paper) or ``'mse'`` (pattern
            detection, ACDA paper). Default: ``'l1'``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 network: dict,
                 loss: str = 'l1',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if loss not in _LOSSES:
            raise ValueError(f'loss must be one of {sorted(_LOSSES)}, got '
                             f'{loss!r}')
        self.network = MODELS.build(network)
        self.loss_name = loss

    def forward(self,
                inputs: torch.Tensor,
                target: torch.Tensor,
                mode: str = 'tensor'):
        """
        Args:
            inputs (Tensor): ``(B, C_in, H, W)``.
            target (Tensor): ``(B, C_out, H, W)``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict | list | Tensor: The losses; per sample
            ``dict(pred=Tensor(C_out, H, W), target=Tensor(C_out, H, W))``;
            or the ``(B, C_out, H, W)`` output.
        """
        if mode == 'loss':
            return self.loss(inputs, target)
        out = self.network(inputs)
        if mode == 'tensor':
            return out
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(out, target)]
        raise ValueError(
            f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, target: torch.Tensor) -> dict:
        """The task loss, ``dict(loss_l1=...)`` or ``dict(loss_mse=...)``.

        Args:
            inputs (Tensor): ``(B, C_in, H, W)``.
            target (Tensor): ``(B, C_out, H, W)``.

        Returns:
            dict[str, Tensor]: One scalar loss.
        """
        out = self.network(inputs)
        return {f'loss_{self.loss_name}': _LOSSES[self.loss_name](out, target)}


@MODELS.register_module()
class PAFUDenseRegressor(PAFUDecorrelationMixin, DenseRegressor):
    """:class:`DenseRegressor` of a network with PAFUs, plus the PAFU
    decorrelation loss (PAFU paper, eq. 4).

    Args:
        decorrelation_weight (float): Weight of the regulariser.
            Default: 1.0.
        **kwargs: Those of :class:`DenseRegressor`.
    """
