"""Loading a plain conv's ``weight`` and ``bias`` into a PAFU or ACDA
converts them, through any loader that calls ``_load_from_state_dict``
(``nn.Module.load_state_dict``, mmengine's ``load_state_dict`` and
``load_checkpoint``, hence ``init_cfg=dict(type='Pretrained')``, mmseg's
``pretrained=`` and ``load_from``), and every such load logs one summary
line.

The layers inherit :class:`PlainConvLoading`, whose
``_load_from_state_dict`` calls :func:`convert_plain_conv` with the layer's
``_params_from_conv``; the conversion maths is in :mod:`.conv_warm_start`.
"""
import logging
import sys
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

#: ``converter(weight, bias) -> (entries, relative residual or None)``: the
#: layer's state dict entries (names relative to the layer) for a plain
#: conv's ``weight`` and ``bias`` (None when the layer has no bias); raises
#: ValueError when the conv cannot be represented.
Converter = Callable[[torch.Tensor, Optional[torch.Tensor]],
                     Tuple[Dict[str, torch.Tensor], Optional[float]]]


@dataclass
class LoadSummary:
    """What the adaptive layers did with plain convs during one load.

    Attributes:
        converted (Counter): Converted layers per layer type.
        residuals (dict[str, float]): ACDA's relative residual per layer.
        not_converted (dict[str, str]): Why, per layer.
    """
    converted: Counter = field(default_factory=Counter)
    residuals: Dict[str, float] = field(default_factory=dict)
    not_converted: Dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """The summary as one log line."""
        kinds = ', '.join(f'{kind}: {count}'
                          for kind, count in sorted(self.converted.items()))
        text = ('Plain conv parameters converted into '
                f'{sum(self.converted.values())} adaptive layers ({kinds})')
        if self.residuals:
            worst = max(self.residuals, key=self.residuals.get)
            per_layer = ', '.join(f'{name} {value:.3f}'
                                  for name, value in self.residuals.items())
            text += (f'; ACDA relative residual: largest '
                     f'{self.residuals[worst]:.3f} ({worst}), per layer: '
                     f'{per_layer}')
        if self.not_converted:
            reasons = '; '.join(f'{name}: {reason}'
                                for name, reason in self.not_converted.items())
            text += (f'; not converted ({len(self.not_converted)}, the '
                     f'loader\'s size-mismatch handling applies): {reasons}')
        return text

    def log(self) -> None:
        level = logging.WARNING if self.not_converted else logging.INFO
        print_log(self.line(), logger='current', level=level)


# Summaries of the loads running now, keyed by the id of the load's shared
# missing-keys list (held, so the id is not reused while pending), with the
# load's root (weakly: a load that raised never pops its entry).
_PENDING: Dict[int, Tuple[List[str], weakref.ref, LoadSummary]] = {}
# Roots that carry the summary's post hook (one hook per root).
_HOOKED_ROOTS = weakref.WeakSet()


def _root_of_current_load() -> Optional[nn.Module]:
    """The module the running ``load_state_dict`` was called on, or None.

    torch's and mmengine's loaders both recurse through a local
    ``load(module, local_state_dict, prefix)``, called with ``prefix=''``
    for the root, and run the root's load post hooks after every other
    module's: the innermost such frame holds the root.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if (frame.f_code.co_name == 'load'
                and frame.f_locals.get('prefix') == ''
                and isinstance(frame.f_locals.get('module'), nn.Module)):
            return frame.f_locals['module']
        frame = frame.f_back
    return None


def _log_summary(module: nn.Module, incompatible_keys) -> None:
    """Load post hook of a root: log its load's summary, if any.

    The hook stays on a module that was a root once; when a later load
    reaches it as a submodule, it must wait for that load's root.
    """
    key = id(incompatible_keys.missing_keys)
    if key in _PENDING and _PENDING[key][1]() is module:
        _PENDING.pop(key)[2].log()


def _summary_of_current_load(missing_keys: List[str]) -> LoadSummary:
    """The summary the running load collects into; logged by the root's
    post hook, or at once if no root is found."""
    if id(missing_keys) in _PENDING:
        return _PENDING[id(missing_keys)][2]
    summary = LoadSummary()
    root = _root_of_current_load()
    if root is None:
        return summary
    if root not in _HOOKED_ROOTS:
        root.register_load_state_dict_post_hook(_log_summary)
        _HOOKED_ROOTS.add(root)
    _PENDING[id(missing_keys)] = (missing_keys, weakref.ref(root), summary)
    return summary


def constant_prediction_entries(
        predictor: nn.Module,
        values: torch.Tensor) -> Dict[str, torch.Tensor]:
    """State dict entries with which a :class:`PixelPredictor` predicts
    ``values`` at every pixel, whatever its input.

    The predict conv's weight is zero, so its output is the last bias (the
    conv's, or that of its norm, whose output for a zero input is its bias)
    seen through the out activation, which is inverted.

    Args:
        predictor (PixelPredictor): Its out activation Tanh or none.
        values (Tensor): ``(out_channels,)``, in ``(-1, 1)`` for Tanh.

    Returns:
        dict[str, Tensor]: Entries named relative to ``predictor``.

    Raises:
        ValueError: For another out activation.
    """
    if isinstance(predictor.out_act, nn.Tanh):
        values = torch.atanh(values)
    elif not isinstance(predictor.out_act, nn.Identity):
        raise ValueError(f'{type(predictor.out_act).__name__} on the '
                         'prediction: only Tanh or none can be inverted')
    entries = {'predict.weight': torch.zeros_like(predictor.predict.weight)}
    if predictor.predict.bias is not None:
        entries['predict.bias'] = values
    else:
        entries['predict_norm.bias'] = values
        if getattr(predictor.predict_norm, 'running_mean', None) is not None:
            entries['predict_norm.running_mean'] = torch.zeros_like(values)
    return entries


def _is_plain_conv(state_dict: dict, prefix: str,
                   own_modules: List[str]) -> bool:
    """Whether ``state_dict`` holds a plain conv at ``prefix``: a 4-D
    ``weight`` and nothing of the layer's submodules (their names)."""
    weight = state_dict.get(prefix + 'weight')
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        return False
    own = tuple(f'{prefix}{name}.' for name in own_modules)
    return not any(key.startswith(own) for key in state_dict)


def convert_plain_conv(layer: nn.Module, state_dict: dict, prefix: str,
                       missing_keys: List[str], converter: Converter) -> None:
    """If ``state_dict`` holds a plain conv at ``prefix``, replace its
    entries by ``converter``'s, for the layer's own loading to load.

    A conv of another shape, or with a bias the layer lacks, is left as it
    is (the loader then reports the size mismatch or unexpected key) and
    named in the load's summary. A layer with a bias loading a conv without
    one gets a zero bias.

    Args:
        layer (nn.Module): A PAFU or ACDA (``out_channels``,
            ``in_channels``, ``groups``, ``kernel_size``, ``bias``).
        state_dict (dict): The dict its ``_load_from_state_dict`` got
            (each loader passes a copy).
        prefix (str): The layer's prefix in it.
        missing_keys (list[str]): The load's missing keys, shared by every
            module of one load.
        converter (callable): See :data:`Converter`.
    """
    children = [child for child, _ in layer.named_children()]
    if not _is_plain_conv(state_dict, prefix, children):
        return
    weight = state_dict[prefix + 'weight']
    bias = state_dict.get(prefix + 'bias')
    conv_shape = (layer.out_channels, layer.in_channels // layer.groups,
                  *layer.kernel_size)
    if weight.shape != conv_shape and weight.shape == layer.weight.shape:
        return  # the layer's own weight, saved without its submodules
    summary = _summary_of_current_load(missing_keys)
    name = prefix[:-1] or type(layer).__name__
    try:
        if tuple(weight.shape) != conv_shape:
            raise ValueError(f'conv weight {tuple(weight.shape)}, this layer '
                             f'converts {conv_shape}')
        if layer.bias is None and bias is not None:
            raise ValueError('the conv has a bias, this layer none')
        if layer.bias is not None and bias is None:
            bias = weight.new_zeros(weight.shape[0])
        entries, residual = converter(weight, bias)
    except ValueError as error:
        summary.not_converted[name] = str(error)
    else:
        state_dict.update({
            prefix + key: value
            for key, value in entries.items() if value is not None
        })
        summary.converted[type(layer).__name__] += 1
        if residual is not None:
            summary.residuals[name] = residual
    if id(missing_keys) not in _PENDING:
        summary.log()


class PlainConvLoading:
    """Mixin of the adaptive convs: their ``_load_from_state_dict`` also
    takes a plain conv's ``weight`` and ``bias``, converted by the layer's
    ``_params_from_conv`` (a :data:`Converter`), as :func:`convert_plain_conv`
    says."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        convert_plain_conv(self, state_dict, prefix, missing_keys,
                           self._params_from_conv)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
