"""mmagic integration: ESPCN, PAFU-SRCNN, PAFU-ESPCN (through ESPCN's
``out_conv_cfg``), linear PAFU super-resolution and the edit model trained
with PAFU's decorrelation loss, registered in ``mmagic.registry.MODELS``.
Imports only mmagic (and the layers)."""
from ..engine import checked_dataset  # noqa: F401  registers CheckedDataset
from .acda_restoration import ACDARestorationNet
from .edit_model import PAFUEditModel
from .espcn import ESPCNNet
from .linear_pafu_sr import LinearPAFUSRNet
from .pafu_srcnn import PAFUSRCNNNet
from .realsr_dataset import RealSRDataset

__all__ = [
    'ACDARestorationNet', 'ESPCNNet', 'LinearPAFUSRNet', 'PAFUEditModel',
    'PAFUSRCNNNet', 'RealSRDataset'
]
