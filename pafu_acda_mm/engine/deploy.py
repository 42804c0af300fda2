"""Deploy conversion of PAFU (paper 5.3): a unit that picks one kernel of its
group everywhere on calibration data becomes a plain ``nn.Conv2d`` holding
that kernel; the others stay PAFUs, whose eval-mode forward is the
deterministic hard selection.

A converted model is described by its original model config plus the
converted units: ``dict(type='PAFUDeployedModel', model=<original>,
single_kernel_pafus={module name: kernel index})`` builds it, so its
checkpoint loads with a config like any other model.
"""
from typing import Dict, Iterable, Optional

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from mmengine.utils import track_iter_progress

from ..layers import PAFU
from ..models import build_conv_like
from .adaptivity import AdaptivityRecorder


def count_pafu_selections(model: nn.Module,
                          data_batches: Iterable[dict],
                          num_batches: int) -> Dict[str, torch.Tensor]:
    """How often every PAFU of ``model`` selects each of its kernels.

    Args:
        model (BaseModel): In eval mode; each batch goes through its data
            preprocessor and its ``tensor`` mode forward.
        data_batches (Iterable[dict]): Data batches as a dataloader yields.
        num_batches (int): How many of them to use (for the progress bar).

    Returns:
        dict[str, Tensor]: Per PAFU module name, ``(num_kernels,)`` int64
        pixel counts; PAFUs the forward never called are absent.
    """
    counts: Dict[str, torch.Tensor] = {}
    pafus = {n: m for n, m in model.named_modules() if isinstance(m, PAFU)}
    batches = zip(range(num_batches), data_batches)
    with torch.no_grad(), AdaptivityRecorder(model) as recorder:
        for _, batch in track_iter_progress((batches, num_batches)):
            data = model.data_preprocessor(batch, False)
            model(**data, mode='tensor')
            for name, maps in recorder.pop()[0].items():
                for index in maps:
                    count = torch.bincount(
                        index.flatten(), minlength=pafus[name].num_kernels)
                    counts[name] = counts.get(name, 0) + count
    return counts


def single_kernel_units(counts: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """The PAFUs whose counts (:func:`count_pafu_selections`) show one
    kernel only, mapped to that kernel's index."""
    return {
        name: int(count.nonzero()[0])
        for name, count in counts.items() if int((count > 0).sum()) == 1
    }


def pafu_to_conv2d(pafu: PAFU, kernel: int) -> nn.Conv2d:
    """An ``nn.Conv2d`` that applies kernel ``kernel`` of ``pafu`` everywhere.

    A kernel smaller than the group's largest size (mixed sizes) becomes a
    conv of its own size with the padding reduced to match, unless the
    padding is too small for that; then it keeps its zero border.

    Args:
        pafu (PAFU): The unit.
        kernel (int): Index in ``[0, pafu.num_kernels)``.

    Returns:
        nn.Conv2d: Same output as ``pafu`` where ``pafu`` selects
        ``kernel``, on the unit's device and dtype.
    """
    if not 0 <= kernel < pafu.num_kernels:
        raise ValueError(f'kernel must be in [0, {pafu.num_kernels}), got '
                         f'{kernel!r}')
    full_h, full_w = pafu.kernel_size
    border = pafu.kernel_border(kernel)
    if any(p < d * border for p, d in zip(pafu.padding, pafu.dilation)):
        border = 0
    conv = build_conv_like(pafu, dict(type='Conv2d'),
                           full_h - 2 * border if border else None)
    rows = slice(kernel * pafu.out_channels, (kernel + 1) * pafu.out_channels)
    with torch.no_grad():
        conv.weight.copy_(pafu.kernels[rows, :, border:full_h - border,
                                       border:full_w - border])
        if pafu.bias is not None:
            conv.bias.copy_(pafu.bias[rows])
    return conv.to(pafu.weight)


def convert_single_kernel_pafus(model: nn.Module,
                                units: Dict[str, int]) -> nn.Module:
    """Replace, in place, the named PAFUs by :func:`pafu_to_conv2d`.

    Args:
        model (nn.Module): The model.
        units (dict[str, int]): PAFU module name -> kernel index.

    Returns:
        nn.Module: ``model``.

    Raises:
        ValueError: If a name is not a PAFU of ``model``.
    """
    for name, kernel in units.items():
        module = model.get_submodule(name) if name else model
        if not isinstance(module, PAFU) or not name:
            raise ValueError(f'single-kernel unit {name!r} must name a PAFU '
                             f'submodule, got {type(module).__name__}')
        parent_name, _, child = name.rpartition('.')
        setattr(model.get_submodule(parent_name), child,
                pafu_to_conv2d(module, kernel))
    return model


@MODELS.register_module('PAFUDeployedModel')
def build_deployed_model(model: dict,
                         single_kernel_pafus: Dict[str, int],
                         data_preprocessor: Optional[dict] = None
                         ) -> nn.Module:
    """Build ``model`` and convert its single-kernel PAFUs (weights come
    from the deployed checkpoint).

    Args:
        model (dict): The original model config.
        single_kernel_pafus (dict[str, int]): PAFU module name -> kernel.
        data_preprocessor (dict, optional): Set by the Runner from a
            top-level ``data_preprocessor``; passed on to ``model`` unless
            it has one.

    Returns:
        nn.Module: The original model class, with ``nn.Conv2d`` in place of
        those PAFUs.
    """
    model = dict(model)
    if data_preprocessor is not None:
        model.setdefault('data_preprocessor', data_preprocessor)
    return convert_single_kernel_pafus(MODELS.build(model),
                                       dict(single_kernel_pafus))
