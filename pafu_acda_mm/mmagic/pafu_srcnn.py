"""PAFU-SRCNN (PAFU paper, section 5.2) on mmagic's ``SRCNNNet``."""
from typing import Optional, Sequence

from mmagic.models.editors import SRCNNNet
from mmagic.registry import MODELS

from ..models import build_conv_like


@MODELS.register_module()
class PAFUSRCNNNet(SRCNNNet):
    """mmagic's ``SRCNNNet`` whose output conv (``conv3``) is built from
    ``out_conv_cfg``: by default a PAFU of 16 kernels, which selects its
    kernel per pixel from the embeddings it convolves (PAFU-SRCNN).

    The rest is upstream's SRCNN: bicubic upsampling, then conv ``9x9``
    (64) -> ReLU -> conv ``1x1`` (32) -> ReLU -> output conv ``5x5``.

    Args:
        channels (Sequence[int]): As ``SRCNNNet``. Default: (3, 64, 32, 3).
        kernel_sizes (Sequence[int]): As ``SRCNNNet``. Default: (9, 1, 5).
        upscale_factor (int): As ``SRCNNNet``. Default: 4.
        out_conv_cfg (dict, optional): ``conv_cfg`` of the output conv
            (PAFU, ACDA, ...), with ``conv3``'s geometry.
            Default: ``dict(type='PAFU', num_kernels=16)``.
    """

    def __init__(self,
                 channels: Sequence[int] = (3, 64, 32, 3),
                 kernel_sizes: Sequence[int] = (9, 1, 5),
                 upscale_factor: int = 4,
                 out_conv_cfg: Optional[dict] = None):
        super().__init__(channels, kernel_sizes, upscale_factor)
        self.conv3 = build_conv_like(
            self.conv3,
            dict(type='PAFU', num_kernels=16)
            if out_conv_cfg is None else out_conv_cfg)
