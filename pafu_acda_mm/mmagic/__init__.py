"""mmagic integration: ESPCN, PAFU-SRCNN, PAFU-ESPCN (through ESPCN's
``out_conv_cfg``), linear PAFU super-resolution and the edit model trained
with PAFU's decorrelation loss, registered in ``mmagic.registry.MODELS``.
Imports only mmagic (and the layers)."""
from ..engine import checked_dataset  # noqa: F401  registers CheckedDataset
from .edit_model import PAFUEditModel
from .espcn import ESPCNNet
from .linear_pafu_sr import LinearPAFUSRNet
from .pafu_srcnn import PAFUSRCNNNet

__all__ = ['ESPCNNet', 'LinearPAFUSRNet', 'PAFUEditModel', 'PAFUSRCNNNet']
