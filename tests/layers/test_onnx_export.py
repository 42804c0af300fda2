"""PAFU and ACDA exported to ONNX and run in onnxruntime equal the PyTorch
eval forward, over their geometries, at two input sizes from one export; at
the tools' opset 17 and at mmdeploy's default, 11."""
import collections
import io

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from pafu_acda_mm.layers import ACDA, PAFU
from pafu_acda_mm.torch_compat import onnx_export

OPSET = 17  # tools/deploy/export_onnx.py's default
MMDEPLOY_OPSET = 11  # mmdeploy's default
# Exported at the first, run at both: dynamic batch, height and width.
SIZES = [(1, 9, 8), (2, 12, 15)]
DYNAMIC_AXES = {
    name: {0: 'batch', 2: 'height', 3: 'width'}
    for name in ('input', 'output')
}


def export(layer: torch.nn.Module,
           channels: int,
           opset: int = OPSET,
           **kwargs) -> bytes:
    """``layer`` as an ONNX file, traced on a ``SIZES[0]`` input."""
    batch, height, width = SIZES[0]
    f = io.BytesIO()
    onnx_export(layer, (torch.randn(batch, channels, height, width), ), f,
                opset_version=opset, input_names=['input'],
                output_names=['output'], dynamic_axes=DYNAMIC_AXES, **kwargs)
    return f.getvalue()


def assert_onnxruntime_equals_eval_forward(
        layer: torch.nn.Module,
        channels: int,
        opset: int = OPSET) -> onnx.ModelProto:
    """Export the eval-mode ``layer`` at ``opset``, run it in onnxruntime at
    every size of ``SIZES`` and compare with ``layer(x)`` (1e-4 of the
    output's largest magnitude, fp32); returns the checked ONNX model."""
    layer.eval()
    model_bytes = export(layer, channels, opset)
    model = onnx.load_from_string(model_bytes)
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(
        model_bytes, providers=['CPUExecutionProvider'])
    for batch, height, width in SIZES:
        x = torch.randn(batch, channels, height, width)
        with torch.no_grad():
            expected = layer(x).numpy()
        (out, ) = session.run(None, {'input': x.numpy()})
        assert out.shape == expected.shape
        scale = np.abs(expected).max()
        assert np.abs(out - expected).max() <= 1e-4 * scale, (
            f'{type(layer).__name__} at {x.shape}: max difference '
            f'{np.abs(out - expected).max()} of {scale}')
    return model


def op_counts(model: onnx.ModelProto,
              opset: int = OPSET) -> collections.Counter:
    """Node types of ``model``; every node in the standard domain of
    ``opset``."""
    assert {n.domain for n in model.graph.node} <= {'', 'ai.onnx'}
    assert [o.version for o in model.opset_import if o.domain in ('',
            'ai.onnx')] == [opset]
    return collections.Counter(n.op_type for n in model.graph.node)


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=7, padding=3, kernel_sizes=(3, 5, 7), num_kernels=6),
    dict(kernel_size=3, padding=2, stride=2, dilation=2, groups=2),
    dict(kernel_size=(3, 5), padding=(1, 2), stride=(1, 2), bias=False),
    dict(kernel_size=4, padding='same', padding_mode='reflect'),
    dict(kernel_size=2, stride=2, padding='valid'),
    dict(kernel_size=1, groups=4),
    dict(kernel_size=3, padding=1, padding_mode='circular', dilation=(1, 2)),
])
def test_pafu_onnxruntime_equals_eval_forward(kwargs):
    kwargs = dict(dict(num_kernels=4), **kwargs)
    layer = PAFU(4, 8, **kwargs).eval()
    x = torch.randn(2, 4, 12, 15)
    with torch.no_grad():
        _, selection = layer(x, return_selection=True)
    assert selection.unique().numel() > 1  # several kernels' paths checked

    counts = op_counts(assert_onnxruntime_equals_eval_forward(layer, 4))
    # One selection, then per kernel its pixels, one put back in place.
    assert counts['ArgMax'] == 1 and counts['ScatterND'] == 1
    assert counts['NonZero'] == counts['MatMul'] == kwargs['num_kernels']


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=7, padding=3),
    dict(kernel_size=5, padding=1, stride=2, dilation=2),
    dict(kernel_size=3, padding=1, groups=2, bias=False),
    dict(kernel_size=7, padding='same', scales=(3, 7), padding_mode='reflect'),
    dict(kernel_size=1),
    dict(kernel_size=3, padding=1,
         generator_cfg=dict(norm_cfg=dict(type='BN'), strided_reduce=True),
         stride=2),
])
def test_acda_onnxruntime_equals_eval_forward(kwargs):
    layer = ACDA(4, 6, **kwargs)
    counts = op_counts(assert_onnxruntime_equals_eval_forward(layer, 4))
    # The basis formulation: the generator's 2 convs, a depthwise conv per
    # scale, the coefficient conv; one per-pixel product.
    assert counts['Conv'] == 3 + len(layer.scales)
    assert counts['MatMul'] == 1


@pytest.mark.parametrize('layer', [
    PAFU(4, 8, 7, padding=3, kernel_sizes=(3, 5, 7), num_kernels=6, groups=2),
    ACDA(4, 6, 7, padding='same', scales=(3, 7), groups=2,
         generator_cfg=dict(norm_cfg=dict(type='BN'))),
], ids=['PAFU', 'ACDA'])
def test_mmdeploy_default_opset_11_exports(layer):
    # The geometries' corners: mixed sizes or scales, groups; ACDA's reshapes
    # of its coefficients and responses are Reshape nodes at opset 11.
    counts = op_counts(
        assert_onnxruntime_equals_eval_forward(layer, 4, MMDEPLOY_OPSET),
        MMDEPLOY_OPSET)
    assert counts['MatMul'] == (6 if isinstance(layer, PAFU) else 1)


def test_unbatched_input_and_the_selection_export():

    class WithSelection(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.pafu = PAFU(3, 5, 3, padding=1, num_kernels=3)

        def forward(self, x):
            return self.pafu(x, return_selection=True)

    model = WithSelection().eval()
    x = torch.randn(3, 10, 7)
    f = io.BytesIO()
    onnx_export(model, (x, ), f, opset_version=OPSET, input_names=['input'])
    session = onnxruntime.InferenceSession(
        f.getvalue(), providers=['CPUExecutionProvider'])
    out, selection = session.run(None, {'input': x.numpy()})
    with torch.no_grad():
        expected_out, expected_selection = model(x)
    assert selection.shape == (10, 7)
    np.testing.assert_array_equal(selection, expected_selection.numpy())
    np.testing.assert_allclose(out, expected_out.numpy(), atol=1e-5)


@pytest.mark.parametrize('layer', [
    PAFU(4, 4, 3, padding=1, num_kernels=2),
    ACDA(4, 4, 3, padding=1),
], ids=['PAFU', 'ACDA'])
@pytest.mark.parametrize('mode', ['TRAINING', 'PRESERVE'])
def test_training_mode_export_raises_a_clear_error(layer, mode):
    with pytest.raises(RuntimeError, match='exports to ONNX in eval mode only'):
        export(layer.train(), 4, training=getattr(torch.onnx.TrainingMode,
                                                  mode))
