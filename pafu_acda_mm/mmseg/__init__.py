"""mmsegmentation integration: the PAFU-PPM head and the segmentor trained
with PAFU's decorrelation loss, registered in ``mmseg.registry.MODELS``.
Imports only mmseg (and the layers)."""
from ..engine import checked_dataset  # noqa: F401  registers CheckedDataset
from .pafu_psp_head import PAFUPSPHead
from .segmentor import PAFUEncoderDecoder

__all__ = ['PAFUEncoderDecoder', 'PAFUPSPHead']
