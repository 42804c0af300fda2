"""The benchmark scripts run and print their ratio tables (their timings are
never asserted: the machine is shared)."""
import re

import pytest

RATIO = r'\d+\.\d\d'


@pytest.mark.e2e
def test_benchmark_layers_prints_time_memory_and_mac_ratios(run_tool):
    output = run_tool('tools/analysis/benchmark_layers.py', '--shapes', 'a64',
                      '--repeats', '1').stdout
    for layer in ('acda', 'acda_unfold'):
        assert re.search(rf'^\| a64 \| {layer} (\| {RATIO} ){{5}}\|$', output,
                         re.MULTILINE), output


@pytest.mark.e2e
def test_benchmark_ad_resnet_times_both_variants_in_one_run(run_tool):
    output = run_tool('tools/analysis/benchmark_ad_resnet.py', '--batch-size',
                      '2', '--size', '32', '--repeats', '1').stdout
    assert re.search(rf'^\| ad_resnet \(Ad-ResNet-s\) \| {RATIO}\d* \| {RATIO} '
                     r'\|$', output, re.MULTILINE), output
    assert re.search(r'^\| plain_conv \(Ad-ResNet-s\) \| [\d.]+ \| 1\.00 \|$',
                     output, re.MULTILINE), output
