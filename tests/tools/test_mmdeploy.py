"""mmdeploy 1.3.1, the OpenMMLab deployment tool, on one config per codebase
as a user runs it: its ``torch2onnx`` with onnxruntime deploy configs (those
of mmdeploy's ``configs/``, at its default opset 11) exports PAFU and ACDA
networks, and the file equals PyTorch in onnxruntime.

mmdeploy pins protobuf<=3.20.2, which onnx and onnxruntime of the lock
refuse: it is installed without its dependencies (docs/tools.md), and these
tests skip where it is not installed.
"""
import functools
import inspect

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from config_e2e import REPO
from mmengine import Config
from test_export_onnx import CASES as EXPORT_CASES
from test_export_onnx import (CodebaseOutput, restored_image,
                              segmentor_logits_at_input_size,
                              write_checkpoint)

from pafu_acda_mm.engine.onnxruntime_check import compare_with_onnxruntime

mmdeploy_apis = pytest.importorskip(
    'mmdeploy.apis',
    reason='mmdeploy is not installed (pip install --no-deps mmdeploy==1.3.1, '
    'docs/tools.md)')

# mmdeploy's configs/_base_/onnx_config.py and backends/onnxruntime.py.
ONNX_CONFIG = dict(type='onnx', export_params=True,
                   keep_initializers_as_inputs=False, opset_version=11,
                   save_file='end2end.onnx', input_names=['input'],
                   output_names=['output'], input_shape=None)
BATCH_AXES = {'input': {0: 'batch'}, 'output': {0: 'batch'}}
IMAGE_AXES = {
    name: {0: 'batch', 2: 'height', 3: 'width'}
    for name in ('input', 'output')
}


def class_probabilities(model, x):
    # mmdeploy's classifier ends in the head's softmax.
    return F.softmax(model(x, None, mode='tensor'), dim=1)


# config, --cfg-options (a smaller network; those of test_export_onnx.py),
# mmdeploy's codebase_config, the onnx_config's changes to ONNX_CONFIG,
# PyTorch's output of the file's network and an input (B, C, H, W) to
# compare at. As mmdeploy's classification_onnxruntime_dynamic.py (the test
# pipeline's 32x32), segmentation_onnxruntime_static.py (logits:
# with_argmax=False; PSPNet's pooling exports at a size whose 1/8 its bins
# divide) and super-resolution_onnxruntime_dynamic.py.
CASES = {
    'acda-lenet': ('configs/acda_lenet/acda-lenet_8xb16_cifar10.py', {},
                   dict(type='mmpretrain', task='Classification'),
                   dict(dynamic_axes=BATCH_AXES), class_probabilities,
                   (3, 3, 32, 32)),
    'pafu-pspnet': (*EXPORT_CASES['pafu-pspnet'][:2],
                    dict(type='mmseg', task='Segmentation',
                         with_argmax=False), dict(input_shape=[48, 48]),
                    segmentor_logits_at_input_size, (1, 3, 48, 48)),
    'acda-net-x2': (*EXPORT_CASES['acda-net-x2'][:2],
                    dict(type='mmagic', task='SuperResolution'),
                    dict(dynamic_axes=IMAGE_AXES), restored_image,
                    (2, 3, 20, 28)),
}


@pytest.fixture
def torchscript_onnx_exporter(monkeypatch):
    """The step a user takes on torch >= 2.9 before mmdeploy exports
    (docs/tools.md): mmdeploy calls ``torch.onnx.export`` without
    ``dynamo``, whose default there is the ``torch.export``-based exporter.
    Releases before 2.5 have no ``dynamo`` argument and need nothing."""
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        monkeypatch.setattr(torch.onnx, 'export',
                            functools.partial(torch.onnx.export,
                                              dynamo=False))


@pytest.mark.usefixtures('torchscript_onnx_exporter')
@pytest.mark.parametrize('case', list(CASES))
def test_mmdeploy_torch2onnx_equals_pytorch_in_onnxruntime(case, tmp_path):
    config, cfg_options, codebase_config, onnx_changes, output, shape = (
        CASES[case])
    model = write_checkpoint(str(REPO / config), cfg_options,
                             tmp_path / 'model.pth')
    cfg = Config.fromfile(str(REPO / config))
    cfg.merge_from_dict(cfg_options)
    deploy_cfg = Config(
        dict(onnx_config=dict(ONNX_CONFIG, **onnx_changes),
             codebase_config=codebase_config,
             backend_config=dict(type='onnxruntime')))
    image = np.random.RandomState(0).randint(0, 256, (32, 32, 3), np.uint8)
    mmdeploy_apis.torch2onnx(image, str(tmp_path), 'end2end.onnx', deploy_cfg,
                             cfg, str(tmp_path / 'model.pth'), device='cpu')

    exported = onnx.load(tmp_path / 'end2end.onnx')
    # Standard operators only: plain onnxruntime runs it, without mmdeploy's
    # custom-op library.
    assert {node.domain for node in exported.graph.node} <= {'', 'ai.onnx'}
    assert [o.version for o in exported.opset_import
            if o.domain in ('', 'ai.onnx')] == [11]
    ops = {node.op_type for node in exported.graph.node}
    assert ('ArgMax' in ops) == ('pafu' in case)
    result = compare_with_onnxruntime(exported,
                                      CodebaseOutput(model.eval(), output),
                                      torch.randn(shape), 1e-4)
    assert result.difference <= 1e-4 * result.scale
