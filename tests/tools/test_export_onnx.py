"""tools/deploy/export_onnx.py on one real config per codebase: the file it
writes runs in onnxruntime, holds what mmdeploy exports for the codebase and
equals PyTorch at another input size than the exported one; and every
shipped config's network through the tool's export and check."""
import re
import runpy
import sys
from pathlib import Path

import onnx
import pytest
import torch
import torch.nn as nn
from config_e2e import REPO
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import save_checkpoint
from pafu_selection import force_kernel

from pafu_acda_mm.engine import build_model_from_config
from pafu_acda_mm.engine.onnxruntime_check import compare_with_onnxruntime

TOOL = 'tools/deploy/export_onnx.py'


def classifier_logits(model, x):
    return model(x, None, mode='tensor')


def segmentor_logits_at_input_size(model, x):
    return model.encode_decode(x, [dict(img_shape=tuple(x.shape[2:]))])


def restored_image(model, x):
    return model(x, None, mode='tensor')


# config, --cfg-options (a smaller network), tool arguments, a second input
# (B, C, H, W), the codebase's expected output, its shape for that input.
# PSPNet's adaptive pooling exports at a fixed size (--static) whose 1/8 is
# a multiple of its bins (1, 2, 3, 6).
CASES = {
    'ad-resnet-s': ('configs/acda_resnet/ad-resnet-s_8xb32_in1k.py', {},
                    ['--shape', '32'], (3, 3, 40, 48), classifier_logits,
                    (3, 1000)),
    'pafu-pspnet': ('configs/pafu_pspnet/'
                    'pafu-pspnet_r50-d8_4xb4-80k_ade20k-512x512.py', {
                        'model.backbone.depth': 18,
                        'model.decode_head.in_channels': 512,
                        'model.decode_head.channels': 32,
                        'model.auxiliary_head.in_channels': 256,
                        'model.auxiliary_head.channels': 32
                    }, ['--shape', '48', '--static'], (3, 3, 48, 48),
                    segmentor_logits_at_input_size, (3, 150, 48, 48)),
    'pafu-espcn-x3': ('configs/pafu_sr/pafu-espcn_x3_1xb16-300k_div2k.py', {},
                      ['--shape', '16', '12'], (1, 3, 20, 24), restored_image,
                      (1, 3, 60, 72)),
    'acda-net-x2': ('configs/acda_realsr/acda-net_x2_1xb16-300k_realsr.py', {
        'model.generator.num_blocks': 2
    },
                    ['--shape', '24'], (1, 3, 20, 28), restored_image,
                    (1, 3, 40, 56)),
}


class CodebaseOutput(nn.Module):
    """``output(model, x)`` as a module, for compare_with_onnxruntime."""

    def __init__(self, model: nn.Module, output):
        super().__init__()
        self.model, self.output = model, output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.model, x)


def write_checkpoint(config: str, cfg_options: dict, path: Path):
    """A checkpoint of ``config``'s freshly built model, and the model."""
    _, model = build_model_from_config(config, cfg_options)
    save_checkpoint(dict(meta=dict(), state_dict=model.state_dict()),
                    str(path))
    return model


@pytest.mark.e2e
@pytest.mark.parametrize('case', list(CASES))
def test_exported_file_equals_pytorch_in_onnxruntime(case, run_tool,
                                                     tmp_path):
    config, cfg_options, args, input_shape, expected_output, out_shape = (
        CASES[case])
    model = write_checkpoint(config, cfg_options, tmp_path / 'model.pth')
    out = tmp_path / 'model.onnx'
    options = [f'{key}={value}' for key, value in cfg_options.items()]
    log = run_tool(TOOL, config,
                   tmp_path / 'model.pth', out, *args,
                   *(['--cfg-options', *options] if options else []))
    assert re.search(r'onnxruntime vs PyTorch on a \(2, 3, \d+, \d+\) input: '
                     r'max difference \S+, .*within the tolerance 0\.0001',
                     log.stdout + log.stderr)

    ops = {node.op_type for node in onnx.load(out).graph.node}
    assert ('ArgMax' in ops) == ('pafu' in case)
    x = torch.randn(input_shape)
    with torch.no_grad():
        assert expected_output(model.eval(), x).shape == out_shape
    result = compare_with_onnxruntime(
        onnx.load(out), CodebaseOutput(model, expected_output), x, 1e-4)
    assert result.difference <= 1e-4 * result.scale


@pytest.mark.e2e
def test_converted_single_kernel_pafus_export_as_plain_convs(
        run_tool, data_dir, small_sad, tmp_path):
    config = data_dir / 'sad_with_test_set.py'
    _, model = build_model_from_config(str(config))
    force_kernel(model.network.conv, 1)  # a single-kernel PAFU
    save_checkpoint(dict(meta=dict(), state_dict=model.state_dict()),
                    str(tmp_path / 'trained.pth'))
    run_tool('tools/deploy/convert.py', config, tmp_path / 'trained.pth',
             tmp_path / 'deploy.pth', '--calib-batches', '1',
             '--cfg-options', *small_sad)

    run_tool(TOOL, tmp_path / 'deploy.py',
             tmp_path / 'deploy.pth', tmp_path / 'deploy.onnx', '--shape',
             '32')
    ops = [node.op_type for node in onnx.load(tmp_path / 'deploy.onnx')
           .graph.node if node.op_type != 'Constant']
    assert ops == ['Conv']


SHIPPED_CONFIGS = sorted(
    str(path.relative_to(REPO)) for path in (REPO / 'configs').glob('*/*.py')
    if path.parent.name != '_base_')


@pytest.mark.e2e
@pytest.mark.parametrize('config', SHIPPED_CONFIGS)
def test_every_shipped_config_exports_equal_to_pytorch(config, tmp_path):
    # The tool's own steps in this process, on the network as shipped.
    tool = runpy.run_path(str(REPO / TOOL))
    _, model = build_model_from_config(str(REPO / config))
    network = tool['DeployedNetwork'](revert_sync_batchnorm(model)).eval()
    channels = tool['input_channels'](model)
    # PSPNet's pooling bins divide 1/8 of 48 (see CASES).
    static = 'pspnet' in config
    size = 48 if static else 32
    torch.manual_seed(0)
    path = str(tmp_path / 'model.onnx')
    tool['export'](network, torch.randn(1, channels, size, size), path, 17,
                   static)
    result = compare_with_onnxruntime(
        onnx.load(path), network, torch.randn(2, channels, size, size), 1e-4)
    assert result.difference <= 1e-4 * result.scale


def test_difference_above_the_tolerance_fails_with_a_clear_message(
        monkeypatch, tmp_path):
    # In this process: the failing check is the tool's last step.
    config = str(REPO / 'configs/pafu_sad/pafu_sad.py')
    write_checkpoint(config, {}, tmp_path / 'model.pth')
    monkeypatch.setattr(sys, 'argv', [
        TOOL, config, str(tmp_path / 'model.pth'),
        str(tmp_path / 'model.onnx'), '--shape', '16', '--tolerance', '0'
    ])
    with pytest.raises(SystemExit) as error:
        runpy.run_path(str(REPO / TOOL), run_name='__main__')
    assert re.fullmatch(
        r'\S+model\.onnx: onnxruntime vs PyTorch on a \(2, 3, 16, 16\) '
        r'input: max difference \S+, output magnitude up to \S+ \(PAFU: 0 '
        r'of 512 selections differ from PyTorch\'s, at ties\): above the '
        r'tolerance 0 x \S+', str(error.value.code))
