"""FLOP and parameter counts of models with PAFU and ACDA layers.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` counts what a jit trace
shows, one multiply-add as one FLOP, bias additions not counted. It does not
know two ops of these layers:

- ``pafu_acda_mm::selected_conv2d`` (before torch 2.4 the autograd function
  ``prim::PythonOp.selected_conv2d``) and ``pafu_acda_mm::indexed_conv2d``,
  PAFU's hard-selection convolution: every output pixel applies one kernel
  of the group, so it costs one convolution with ``out_channels`` outputs
  (at the group's largest size). Training's recomputation for the
  straight-through gradient is backward work, not counted.
- ``aten::baddbmm``, with which ACDA accumulates its per-pixel atom products
  over scales.

:func:`adaptive_flop_analyzer` registers handles for both, and an exact
count for two-operand ``einsum`` (ACDA's 1x1 coefficient convolution is one,
on channels-last rows). :func:`acda_complexity` splits an ACDA layer into its
atom convolution, its coefficient convolution and its atom generator.
"""
from collections import Counter
from typing import Any, Dict, List, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import bmm_flop_jit
from mmengine.analysis.jit_handles import \
    einsum_flop_jit as mmengine_einsum_flop_jit
from mmengine.analysis.jit_handles import get_shape

from ..layers import ACDA


def selected_conv_flop_jit(inputs: List[Any],
                           outputs: List[Any]) -> Counter:
    """PAFU's selected convolution: one kernel per output pixel.

    Inputs are ``x, kernels (n * C_out, C_in / g, k, k), ...``;
    the count is ``B * C_out * H_out * W_out * (C_in / g) * k * k``.
    """
    out_shape = get_shape(outputs[0])
    kernel_shape = get_shape(inputs[1])
    per_output = 1
    for size in kernel_shape[1:]:
        per_output *= size
    count = per_output
    for size in out_shape:
        count *= size
    return Counter({'selected_conv': count})


def baddbmm_flop_jit(inputs: List[Any], outputs: List[Any]) -> Counter:
    """``input + batch1 @ batch2``: the batched product's multiply-adds."""
    return Counter({'baddbmm': bmm_flop_jit(inputs[1:3], outputs)})


def einsum_flop_jit(inputs: List[Any], outputs: List[Any]) -> Counter:
    """Exact multiply-adds of a two-operand ``einsum``: the product of the
    sizes of all its indices (mmengine rounds through ``np.einsum_path``).
    ACDA's coefficient conv is ``einsum('nagi,goia->ngo')``."""
    equation = inputs[0].toIValue().replace(' ', '')
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    operands = equation.split('->')[0].split(',')
    if len(operands) != 2:
        return Counter({'einsum': mmengine_einsum_flop_jit(inputs, outputs)})
    sizes = {}
    for letters, shape in zip(operands, shapes):
        sizes.update(zip(letters, shape))
    count = 1
    for size in sizes.values():
        count *= size
    return Counter({'einsum': count})


ADAPTIVE_FLOP_HANDLES = {
    'pafu_acda_mm::selected_conv2d': selected_conv_flop_jit,
    'pafu_acda_mm::indexed_conv2d': selected_conv_flop_jit,
    'prim::PythonOp.selected_conv2d': selected_conv_flop_jit,
    'aten::baddbmm': baddbmm_flop_jit,
    'aten::einsum': einsum_flop_jit,
}


def adaptive_flop_analyzer(
        model: nn.Module, inputs: Union[torch.Tensor,
                                        Tuple[torch.Tensor, ...]]
) -> FlopAnalyzer:
    """A FlopAnalyzer of ``model(*inputs)`` that counts PAFU and ACDA.

    Put the model in eval mode first (PAFU then selects by argmax).
    Warnings about uncalled submodules are off: the layers' predictors call
    their last conv's weights directly, so that conv's count shows on the
    predictor, not on the conv.

    Args:
        model (nn.Module): The model to trace.
        inputs (Tensor | tuple[Tensor]): Its positional inputs.

    Returns:
        FlopAnalyzer: With :data:`ADAPTIVE_FLOP_HANDLES` registered.
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle(**ADAPTIVE_FLOP_HANDLES)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def acda_complexity(model: nn.Module,
                    analyzer: FlopAnalyzer) -> Dict[str, Dict[str, dict]]:
    """FLOPs and parameters of every ACDA layer, split into its parts.

    Args:
        model (nn.Module): The model ``analyzer`` traced.
        analyzer (FlopAnalyzer): From :func:`adaptive_flop_analyzer`.

    Returns:
        dict: Per ACDA module name, ``dict(flops=..., params=...)``, each a
        dict with ``atom_conv`` (depthwise convolutions with the
        Fourier-Bessel bases and the per-pixel products with the
        coefficients; no parameters), ``coefficient_conv`` (the 1x1
        convolution ``A``) and ``atom_generation`` (the coefficient
        predictor).
    """
    by_module = analyzer.by_module_and_operator()
    params = parameter_count(model)
    split = {}
    for name, module in model.named_modules():
        if not isinstance(module, ACDA):
            continue
        generator = f'{name}.atom_generator' if name else 'atom_generator'
        own = by_module[name] - by_module[generator]
        coefficient = own['einsum']
        split[name] = dict(
            flops=dict(
                atom_conv=sum(own.values()) - coefficient,
                coefficient_conv=coefficient,
                atom_generation=sum(by_module[generator].values())),
            params=dict(
                atom_conv=0,
                coefficient_conv=params[name] - params[generator],
                atom_generation=params[generator]))
    return split
