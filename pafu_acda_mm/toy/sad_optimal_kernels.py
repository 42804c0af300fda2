"""The SAD-optimal PAFU kernels: a test of whether a PAFU learned them, and
an initialiser to train the selector alone (a diagnostic of the PAFU paper's
claim, fig. 2)."""
import torch
from mmengine.model.weight_init import BaseInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS

from ..layers import PAFU


def dirac_kernel(layer: PAFU) -> torch.Tensor:
    """The identity filter of a square, ungrouped PAFU.

    Args:
        layer (PAFU): With ``in_channels == out_channels`` and
            ``groups == 1``.

    Returns:
        Tensor: ``(C, C, k, k)``, 1 at the centre tap of channel ``c`` to
        channel ``c``, 0 elsewhere.
    """
    if layer.in_channels != layer.out_channels or layer.groups != 1:
        raise ValueError('a Dirac needs in_channels == out_channels and '
                         f'groups == 1, got {layer}')
    size = layer.kernel_size[0]
    dirac = torch.zeros(layer.out_channels, layer.in_channels, size, size)
    dirac[range(layer.out_channels),
          range(layer.in_channels), size // 2, size // 2] = 1
    return dirac


# A Dirac has norm sqrt(C) (1.73 for RGB): both bounds are far below it.
PAPERS_PAIR_DIRAC_TOLERANCE = 0.1
PAPERS_PAIR_ZERO_TOLERANCE = 0.3


def is_papers_kernel_pair(layer: PAFU) -> bool:
    """Whether a 2-kernel PAFU learned SAD's optimal pair (PAFU paper 3.2):
    one kernel within :data:`PAPERS_PAIR_DIRAC_TOLERANCE` of the Dirac
    (Frobenius norm), the other of norm below
    :data:`PAPERS_PAIR_ZERO_TOLERANCE` (biases aside).

    Args:
        layer (PAFU): With 2 kernels, as :func:`dirac_kernel` needs.

    Returns:
        bool: Whether it did.
    """
    if layer.num_kernels != 2:
        raise ValueError('the pair needs a PAFU with num_kernels=2, got '
                         f'{layer.num_kernels}')
    dirac = dirac_kernel(layer)
    kernels = layer.kernels.detach().reshape(2, *dirac.shape)
    distances = [(kernel - dirac).norm().item() for kernel in kernels]
    near_dirac = distances.index(min(distances))
    return (distances[near_dirac] < PAPERS_PAIR_DIRAC_TOLERANCE
            and kernels[1 - near_dirac].norm().item() <
            PAPERS_PAIR_ZERO_TOLERANCE)


@WEIGHT_INITIALIZERS.register_module()
class SADOptimalPAFUKernels(BaseInit):
    """Set every PAFU's kernel 0 to a Dirac and all other kernels and every
    bias to zero: the optimal minimal filter bank of SAD (PAFU paper 3.2).

    Only the kernels are set; selectors keep their initialisation. Freeze
    the kernels (e.g. ``lr_mult=0``) to learn the selection alone.
    """

    def __call__(self, module: torch.nn.Module) -> None:
        for layer in module.modules():
            if not isinstance(layer, PAFU):
                continue
            dirac = dirac_kernel(layer)
            with torch.no_grad():
                layer.weight.zero_()
                # Kernel 0 is the first out_channels rows.
                layer.weight[:layer.out_channels] = dirac
                if layer.bias is not None:
                    layer.bias.zero_()
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return (f'{self.__class__.__name__}: PAFU kernel 0 Dirac, other '
                'kernels and biases 0')
