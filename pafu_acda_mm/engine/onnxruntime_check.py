"""An exported ONNX file in onnxruntime against the PyTorch network it came
from (needs the deploy extra: onnx and onnxruntime; not imported by
``pafu_acda_mm.engine``).

PAFU picks a kernel per pixel by the argmax of its selector's logits. Where
two logits are equal to within rounding, onnxruntime and PyTorch, which sum
in different orders, may pick different kernels, and the outputs then differ
by a whole kernel's response there and downstream. So PyTorch runs with the
selections onnxruntime made (the file's ``ArgMax`` results), and a selection
that differs from PyTorch's own is accepted only where PyTorch's logits tie.
"""
from typing import List, NamedTuple

import numpy as np
import onnx
import onnxruntime
import torch
import torch.nn as nn
import torch.nn.functional as F

from pafu_acda_mm.layers import PAFU


class OnnxruntimeComparison(NamedTuple):
    """What :func:`compare_with_onnxruntime` measured."""
    difference: float  # largest |onnxruntime - PyTorch| of the output
    scale: float  # largest |PyTorch| of the output
    selections: int  # PAFU selections compared: pixels of every PAFU call
    ties: int  # of those, where onnxruntime picked another tied kernel


def with_selection_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs each ``ArgMax`` node's result,
    in graph order, after its own outputs."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == 'ArgMax':
            copy.graph.output.append(
                onnx.helper.make_tensor_value_info(node.output[0],
                                                   onnx.TensorProto.INT64,
                                                   None))
    return copy


def compare_with_onnxruntime(model: onnx.ModelProto, network: nn.Module,
                             inputs: torch.Tensor,
                             tolerance: float) -> OnnxruntimeComparison:
    """Run ``model`` in onnxruntime on the CPU and ``network`` in PyTorch,
    each PAFU of ``network`` selecting what the file's PAFU selected.

    The file's ``ArgMax`` nodes pair with the PAFU calls in order: a trace
    records the calls in the order they run.

    Args:
        model (onnx.ModelProto): The exported network: one input, its first
            output ``network``'s output.
        network (nn.Module): The eval-mode module it was exported from.
        inputs (Tensor): Its input, e.g. ``(B, C, H, W)`` float32.
        tolerance (float): Two logits of a PAFU tie when they differ by at
            most ``tolerance`` times that call's largest ``|logit|``.

    Returns:
        OnnxruntimeComparison: The output's difference and scale, and the
        PAFU selections compared and found different at ties.

    Raises:
        RuntimeError: If the file's ``ArgMax`` nodes do not pair with the
            PAFU calls, if onnxruntime picked another kernel than PyTorch
            where PyTorch's logits do not tie, or if the output shapes
            differ.
    """
    selectors = [m.selector for m in network.modules() if isinstance(m, PAFU)]
    checked = with_selection_outputs(model) if selectors else model
    session = onnxruntime.InferenceSession(
        checked.SerializeToString(), providers=['CPUExecutionProvider'])
    results = session.run(None,
                          {session.get_inputs()[0].name: inputs.numpy()})
    out = results[0]
    onnx_indices: List[torch.Tensor] = [
        torch.from_numpy(index) for index in results[len(model.graph.output):]
    ]
    counts = dict(calls=0, selections=0, ties=0)

    def select_as_onnxruntime(selector, args, logits):
        call = counts['calls']
        counts['calls'] += 1
        expected_shape = logits.shape[:1] + logits.shape[2:]
        if (call >= len(onnx_indices)
                or onnx_indices[call].shape != expected_shape):
            raise RuntimeError(
                f'the ONNX file\'s {len(onnx_indices)} ArgMax results do not '
                f'pair with PAFU call {call + 1}, whose selection is '
                f'{tuple(expected_shape)}')
        index = onnx_indices[call].to(logits.device)
        scores = logits.float()
        own = scores.argmax(dim=1)
        gap = (scores.gather(1, own[:, None]) -
               scores.gather(1, index[:, None]))[:, 0]
        scale = float(scores.abs().max())
        differs = own != index
        different = int(differs.sum())
        if (gap[differs] > tolerance * scale).any():
            raise RuntimeError(
                f'onnxruntime picked another kernel than PyTorch at '
                f'{different} pixels of PAFU call {call + 1}, where '
                f'PyTorch\'s logits differ by up to {float(gap.max()):.3g} '
                f'(ties: at most {tolerance:g} x {scale:.3g})')
        counts['selections'] += index.numel()
        counts['ties'] += different
        return F.one_hot(index, logits.shape[1]).permute(0, 3, 1,
                                                         2).to(logits.dtype)

    hooks = [
        selector.register_forward_hook(select_as_onnxruntime)
        for selector in selectors
    ]
    try:
        with torch.no_grad():
            expected = network(inputs).numpy()
    finally:
        for hook in hooks:
            hook.remove()
    if counts['calls'] != len(onnx_indices):
        raise RuntimeError(
            f'the ONNX file has {len(onnx_indices)} ArgMax results, the '
            f'network\'s PAFUs selected {counts["calls"]} times: cannot '
            'pair their selections')
    if out.shape != expected.shape:
        raise RuntimeError(f'onnxruntime output shape {out.shape} differs '
                           f'from PyTorch\'s {expected.shape}')
    return OnnxruntimeComparison(
        float(np.abs(out - expected).max()), float(np.abs(expected).max()),
        counts['selections'], counts['ties'])
