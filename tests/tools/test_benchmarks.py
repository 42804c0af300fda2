"""The benchmark scripts run and print their ratio tables (their timings are
never asserted: the machine is shared)."""
import re
import subprocess

import pytest
from config_e2e import REPO

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
    import torch
    path = tmp_path / 'layers.md'
    output = run_tool('tools/analysis/benchmark_layers.py', '--shapes', 'a64',
                      '--repeats', '1', '--no-memory', '--markdown', path,
                      '--dtypes', 'fp32', 'bf16').stdout
    header, blank, *table = path.read_text().splitlines()
    assert header.startswith('Machine: ') and blank == ''
    assert f'torch {torch.__version__};' in header
    assert f'commit {_head_commit()}' in header
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
