"""What the adaptive layers choose at every pixel, recorded with forward
hooks (the layers are not changed).

- PAFU: the selected kernel index, from the selector's logits, exactly as
  the layer selects in eval mode (no Gumbel noise).
- ACDA: the preference for each basis scale (3x3 / 5x5 / 7x7 by default, ACDA
  paper fig. 7): the share of the coefficients' absolute mass that falls on
  the bases of each scale, summed over atoms, per pixel.
"""
from collections import defaultdict
from typing import Dict, List

import torch
import torch.nn as nn

from ..layers import ACDA, PAFU, gumbel_argmax


def acda_scale_weights(layer: ACDA, coeffs: torch.Tensor) -> torch.Tensor:
    """Per-pixel share of each basis scale in an ACDA layer's coefficients.

    Args:
        layer (ACDA): The layer that predicted ``coeffs``.
        coeffs (Tensor): Its atom generator's output,
            ``(B, m * S * m', H_out, W_out)``; channel ``a * S * m' + k``
            weighs basis ``k`` of atom ``a``, scale ``s`` owns bases
            ``s * m'`` to ``(s + 1) * m' - 1``.

    Returns:
        Tensor: ``(B, S, H_out, W_out)`` float32, non-negative, summing to 1
        over the scales (``layer.scales`` order) at every pixel.
    """
    num_scales = len(layer.scales)
    per_atom = coeffs.shape[1] // layer.num_atoms
    mass = coeffs.detach().float().abs().unflatten(
        1, (layer.num_atoms, num_scales, per_atom // num_scales)).sum(
            dim=(1, 3))
    return mass / mass.sum(dim=1, keepdim=True).clamp_min(
        torch.finfo(mass.dtype).tiny)


class AdaptivityRecorder:
    """Record PAFU selections and ACDA scale preferences during forwards.

    Every PAFU and ACDA module of ``model`` gets a forward hook on its
    selector / atom generator while the recorder is entered. Records are
    kept per module name, one entry per call, on the CPU.

    Args:
        model (nn.Module): The model (eval mode: PAFU records are the
            deterministic selections, and recording in training mode
            raises).

    Example:
        >>> with AdaptivityRecorder(model) as recorder:
        ...     model(inputs)
        >>> selections, scale_weights = recorder.pop()
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self._handles = []
        self._selections: Dict[str, List[torch.Tensor]] = defaultdict(list)
        self._scale_weights: Dict[str, List[torch.Tensor]] = defaultdict(
            list)

    def __enter__(self) -> 'AdaptivityRecorder':
        for name, module in self.model.named_modules():
            if isinstance(module, PAFU):
                self._handles.append(
                    module.selector.register_forward_hook(
                        self._pafu_hook(name, module)))
            elif isinstance(module, ACDA):
                self._handles.append(
                    module.atom_generator.register_forward_hook(
                        self._acda_hook(name, module)))
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def pop(self):
        """Return and clear the records.

        Returns:
            tuple[dict, dict]: PAFU selections, per module name a list of
            ``(B, H_out, W_out)`` int64 index maps; ACDA scale weights, per
            module name a list of ``(B, S, H_out, W_out)`` (see
            :func:`acda_scale_weights`).
        """
        records = dict(self._selections), dict(self._scale_weights)
        self._selections.clear()
        self._scale_weights.clear()
        return records

    def _pafu_hook(self, name: str, layer: PAFU):

        def hook(selector, inputs, logits):
            if layer.training:
                raise RuntimeError(
                    f'AdaptivityRecorder: PAFU {name!r} is in training mode, '
                    'where its selection is random; call model.eval()')
            self._selections[name].append(
                gumbel_argmax(logits.detach(), dim=1, sample=False).cpu())

        return hook

    def _acda_hook(self, name: str, layer: ACDA):

        def hook(generator, inputs, coeffs):
            self._scale_weights[name].append(
                acda_scale_weights(layer, coeffs).cpu())

        return hook
