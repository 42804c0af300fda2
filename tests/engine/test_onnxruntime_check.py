"""compare_with_onnxruntime: PyTorch's PAFUs select what the ONNX file's
selected, accepted where PyTorch's logits tie, an error elsewhere."""
import io
import re

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn as nn
from pafu_selection import force_kernel

from pafu_acda_mm.engine.onnxruntime_check import compare_with_onnxruntime
from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.torch_compat import onnx_export

INPUT_SHAPE = (2, 3, 10, 12)


def two_pafus() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        PAFU(3, 8, 3, padding=1, num_kernels=4), nn.ReLU(),
        PAFU(8, 4, 3, padding=1, num_kernels=4)).eval()


def exported(network: nn.Module) -> onnx.ModelProto:
    f = io.BytesIO()
    onnx_export(network, (torch.randn(INPUT_SHAPE), ), f, opset_version=17,
                input_names=['input'], output_names=['output'],
                dynamic_axes=dict(input={0: 'batch'}, output={0: 'batch'}))
    return onnx.load_from_string(f.getvalue())


def test_another_kernel_at_an_exact_tie_is_accepted():
    network = two_pafus()
    force_kernel(network[0], 0)
    with torch.no_grad():  # kernels 0 and 1 tie at every pixel
        logit_bias = network[0].selector.predict_norm.bias
        logit_bias[1] = logit_bias[0]
    model = exported(network)
    # onnxruntime takes the last of tied maxima, PyTorch the first.
    first_argmax = next(n for n in model.graph.node if n.op_type == 'ArgMax')
    next(a for a in first_argmax.attribute
         if a.name == 'select_last_index').i = 1
    x = torch.randn(INPUT_SHAPE)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=['CPUExecutionProvider'])
    (out, ) = session.run(None, {'input': x.numpy()})
    with torch.no_grad():
        expected = network(x).numpy()
    scale = np.abs(expected).max()
    assert np.abs(out - expected).max() > 0.01 * scale  # kernel 1, not 0

    result = compare_with_onnxruntime(model, network, x, tolerance=1e-4)
    pixels = INPUT_SHAPE[0] * INPUT_SHAPE[2] * INPUT_SHAPE[3]
    assert result.ties == pixels
    assert result.selections == 2 * pixels
    assert result.difference <= 1e-5 * result.scale


def test_another_kernel_without_a_tie_is_an_error():
    network = two_pafus()
    model = exported(network)
    force_kernel(network[2], 2)  # PyTorch's second PAFU only
    with pytest.raises(
            RuntimeError,
            match=r'onnxruntime picked another kernel than PyTorch at \d+ '
            r'pixels of PAFU call 2, where PyTorch\'s logits differ by up '
            r'to 100'):
        compare_with_onnxruntime(model, network, torch.randn(INPUT_SHAPE),
                                 tolerance=1e-4)


def test_argmax_results_that_do_not_pair_with_the_pafu_calls_are_an_error():
    network = two_pafus()
    model = exported(network)
    longer = nn.Sequential(*network, PAFU(4, 4, 3, padding=1)).eval()
    with pytest.raises(
            RuntimeError,
            match=re.escape("the ONNX file's 2 ArgMax results do not pair "
                            'with PAFU call 3, whose selection is '
                            '(2, 10, 12)')):
        compare_with_onnxruntime(model, longer, torch.randn(INPUT_SHAPE),
                                 tolerance=1e-4)
