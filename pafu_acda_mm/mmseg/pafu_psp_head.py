"""PAFU-PPM (PAFU paper, section 5.4) on mmseg's PSPHead."""
from typing import Optional

from mmseg.models.decode_heads import PSPHead
from mmseg.registry import MODELS

from ..models import build_conv_like


@MODELS.register_module()
class PAFUPSPHead(PSPHead):
    """PSPNet's head with a PAFU as the 3x3 conv over the concatenated
    pyramid pooling features (``bottleneck.conv``), the paper's PAFU-PPM.

    The pyramid's 1x1 convs, the norm, the activation and the classifier stay
    as upstream, and so do the state-dict keys (``bottleneck.conv.weight``
    holds ``num_kernels`` kernels, plus ``bottleneck.conv.selector.*``).

    Args:
        pafu_cfg (dict): The PAFU. Default: ``dict(type='PAFU',
            num_kernels=8)`` (the paper's 8 kernels).
        **kwargs: ``PSPHead``'s arguments (``pool_scales``, ``in_channels``,
            ``channels``, ...).

    Shapes: as ``PSPHead``, inputs a list of ``(B, C_i, H_i, W_i)`` maps,
    output logits ``(B, num_classes, H, W)`` at the ``in_index`` map's size.
    """

    def __init__(self, pafu_cfg: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.bottleneck.conv = build_conv_like(
            self.bottleneck.conv,
            dict(type='PAFU', num_kernels=8) if pafu_cfg is None else pafu_cfg)
