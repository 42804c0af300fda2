"""The benchmark scripts run and print their ratio tables (their timings are
never asserted: the machine is shared)."""
import importlib
import re
import subprocess
import sys
from collections import Counter

import pytest
import torch
from config_e2e import REPO

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.ops import selected_conv

RATIO = r'\d+\.\d\d'


@pytest.mark.e2e
def test_benchmark_layers_prints_time_memory_and_mac_ratios(run_tool):
    output = run_tool('tools/analysis/benchmark_layers.py', '--shapes', 'a64',
                      '--repeats', '1', '--onnx').stdout
    for layer in ('acda', 'acda_unfold'):
        assert re.search(rf'^\| a64 \| {layer} (\| {RATIO} ){{5}}\|$', output,
                         re.MULTILINE), output
    # The exported layer in onnxruntime vs its PyTorch eval forward and vs
    # the exported conv.
    assert re.search(rf'^\| a64 \| acda (\| {RATIO} ){{2}}\|$', output,
                     re.MULTILINE), output


def _head_commit() -> str:
    return subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--short',
                           'HEAD'], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.e2e
def test_benchmark_markdown_names_machine_torch_and_commit_once(
        run_tool, tmp_path):
    path = tmp_path / 'layers.md'
    head = _head_commit()  # named before the run: others may commit
    output = run_tool('tools/analysis/benchmark_layers.py', '--shapes', 'a64',
                      '--repeats', '1', '--no-memory', '--markdown', path,
                      '--dtypes', 'fp32', 'bf16').stdout
    header, blank, *table = path.read_text().splitlines()
    assert header.startswith('Machine: ') and blank == ''
    assert f'torch {torch.__version__};' in header
    assert f'commit {head}' in header
    assert ('command: `tools/analysis/benchmark_layers.py --shapes a64 '
            '--repeats 1 --no-memory --markdown') in header
    # The file holds exactly the printed table, rows and all; fp32 rows,
    # then the same under bf16 autocast.
    assert table[0].startswith('| shape | layer |') and len(table) == 6
    assert all(row in output.splitlines() for row in table)
    for row, shape in ((table[2], 'a64'), (table[4], 'a64 bf16')):
        assert re.fullmatch(rf'\| {shape} \| acda (\| {RATIO} ){{2}}\| - '
                            rf'(\| {RATIO} ){{2}}\|', row)

    path = tmp_path / 'ad_resnet.md'
    run_tool('tools/analysis/benchmark_ad_resnet.py', '--batch-size', '2',
             '--size', '32', '--repeats', '1', '--markdown', path)
    header, _, *table = path.read_text().splitlines()
    assert header.startswith('Machine: ') and len(table) == 4
    assert table[3].startswith('| plain_conv (Ad-ResNet-s) |')


@pytest.mark.e2e
def test_benchmark_ad_resnet_times_both_variants_in_one_run(run_tool):
    output = run_tool('tools/analysis/benchmark_ad_resnet.py', '--batch-size',
                      '2', '--size', '32', '--repeats', '1').stdout
    assert re.search(rf'^\| ad_resnet \(Ad-ResNet-s\) \| {RATIO}\d* \| {RATIO} '
                     r'\|$', output, re.MULTILINE), output
    assert re.search(r'^\| plain_conv \(Ad-ResNet-s\) \| [\d.]+ \| 1\.00 \|$',
                     output, re.MULTILINE), output


def _benchmark_module(name: str):
    """A module of tools/analysis (the scripts import each other from
    there)."""
    sys.path.insert(0, str(REPO / 'tools' / 'analysis'))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


@pytest.mark.parametrize('net', ['espcn', 'pspnet'])
def test_whole_step_iteration_trains_the_pafu_net(net):
    """One tiny training iteration moves every PAFU kernel and the
    selector (the decorrelation and task losses reach them)."""
    models = _benchmark_module('whole_step_models')
    iteration = models.TrainingIteration(net, True, 'cpu', tiny=True)
    pafu = next(m for m in iteration.model.modules() if isinstance(m, PAFU))
    before = {name: p.detach().clone()
              for name, p in pafu.named_parameters()}
    assert torch.isfinite(iteration())
    assert all(not torch.equal(before[name], p)
               for name, p in pafu.named_parameters()), net


def test_whole_step_espcn_is_the_plugins_pafu_espcn():
    """The same parameters and outputs as mmagic's ESPCNNet built as
    configs/pafu_sr/pafu-espcn_x4 configures it."""
    pytest.importorskip('mmagic')
    from pafu_acda_mm.mmagic import ESPCNNet
    models = _benchmark_module('whole_step_models')
    net = models.build_model('espcn', pafu=True).eval()
    plugin = ESPCNNet(kernel_sizes=(5, 3, 3), upscale_factor=4,
                      out_conv_cfg=dict(type='PAFU', num_kernels=16)).eval()
    plugin.load_state_dict(net.state_dict())  # strict: the same keys
    x = torch.rand(1, 3, 6, 7)
    torch.testing.assert_close(net(x), plugin(x))


def _parameter_shapes(model: torch.nn.Module) -> Counter:
    return Counter(tuple(p.shape) for p in model.parameters())


@pytest.mark.parametrize('pafu', [True, False])
def test_whole_step_pspnet_has_the_configs_parameters(pafu):
    """The same parameter shapes as mmseg's model of the plugin's
    PAFU-PSPNet config (or upstream's PSPNet), both narrowed alike."""
    pytest.importorskip('mmseg')
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    models = _benchmark_module('whole_step_models')
    width = 64 // models.TINY_WIDTH_DIVISOR
    config = (Config.fromfile(
        REPO / 'configs/pafu_pspnet/_base_/pafu-pspnet_r50-d8.py') if pafu
              else Config.fromstring(
                  "_base_ = ['mmseg::_base_/models/pspnet_r50-d8.py']",
                  '.py')).model
    config.backbone.update(stem_channels=width, base_channels=width)
    config.decode_head.update(in_channels=32 * width, channels=8 * width,
                              num_classes=150)
    config.auxiliary_head.update(in_channels=16 * width, channels=4 * width,
                                 num_classes=150)
    with DefaultScope.overwrite_default_scope('mmseg'):
        import pafu_acda_mm.mmseg  # noqa: F401  registers the PAFU models
        upstream = MODELS.build(config)
    net = models.build_model('pspnet', pafu, tiny=True)
    assert _parameter_shapes(net) == _parameter_shapes(upstream)


def test_formulations_route_the_ops_to_each_implementation():
    """While a formulation runs, PAFU's op computes with its
    implementation (forward and backward) and settings; as before after."""
    benchmark = _benchmark_module('benchmark_layers')
    cpu = selected_conv.implementation(torch.device('cpu'))
    calls = []

    class Recording:
        SELECTION_GRADIENT = 'cudnn'

        def indexed_conv2d(self, *args):
            calls.append(('forward', self.SELECTION_GRADIENT))
            return cpu.indexed_conv2d(*args)

        def selected_conv2d_backward(self, *args):
            calls.append(('backward', self.SELECTION_GRADIENT))
            return cpu.selected_conv2d_backward(*args)

    recording = Recording()
    pafu = PAFU(4, 4, 3, padding=1, num_kernels=2)
    run = benchmark.step(pafu, torch.rand(1, 4, 5, 5), train=True)
    benchmark.routed(run, (recording, dict(SELECTION_GRADIENT='triton')))()
    assert calls == [('forward', 'triton'), ('backward', 'triton')]
    run()
    assert len(calls) == 2 and recording.SELECTION_GRADIENT == 'cudnn'


def test_baseline_loads_from_a_revision_or_its_carried_folder(tmp_path):
    """``--baseline``: the CUDA ops of a git revision, or of the folder
    tools/gpu_check.sh --prepare-wheels makes of it, named by revision."""
    pytest.importorskip('triton')
    benchmark = _benchmark_module('benchmark_layers')
    head = _head_commit()
    (tmp_path / 'REVISION').write_text(head + '\n')
    (tmp_path / 'selected_conv_cuda.py').write_text(subprocess.run(
        ['git', '-C', str(REPO), 'show', f'{head}:{benchmark.CUDA_OPS}'],
        capture_output=True, text=True, check=True).stdout)
    for source in (head, str(tmp_path)):
        module, revision = benchmark.load_baseline(source)
        assert revision == head
        assert module.__name__.endswith(head)
        assert callable(module.indexed_conv2d)
    with pytest.raises(RuntimeError, match='--baseline no-such-rev'):
        benchmark.load_baseline('no-such-rev')


@pytest.mark.e2e
@pytest.mark.triton
def test_benchmark_times_whole_steps_and_every_formulation(
        run_tool, monkeypatch):
    """--tables whole-step formulations, tiny, the Triton kernels in
    Triton's interpreter: a row for each net and its twin, and for each way
    to compute PAFU's selected convolution, the baseline's named."""
    pytest.importorskip('triton', minversion='3.0')
    monkeypatch.setenv('TRITON_INTERPRET', '1')
    head = _head_commit()  # named before the run: others may commit
    output = run_tool('tools/analysis/benchmark_layers.py', '--tiny',
                      '--tables', 'whole-step', 'formulations', '--baseline',
                      head, '--shapes', 'p8', '--repeats', '1',
                      '--no-memory').stdout
    for net in ('PAFU-ESPCN x4', 'ESPCN x4', 'PSPNet-R50-D8 + PAFU-PPM',
                'PSPNet-R50-D8'):
        assert re.search(rf'^\| {re.escape(net)} \| B\d+ \d+x\d+ \| '
                         rf'[\d.]+ \| {RATIO} \| - \|$', output,
                         re.MULTILINE), output
    for formulation in ('cpu', f'triton {head}',
                        'triton, cudnn selection grad',
                        'triton, triton selection grad', 'torch',
                        'pafu_plain'):
        assert re.search(rf'^\| p8 \| {formulation} (\| {RATIO} ){{2}}\| - '
                         r'\|$', output, re.MULTILINE), output
