import re

import pytest


@pytest.mark.e2e
def test_get_flops_counts_the_pafu_of_the_demo_config(run_tool):
    result = run_tool('tools/analysis/get_flops.py',
                      'configs/pafu_sad/pafu_sad.py', '--shape', '32')
    output = result.stdout + result.stderr
    assert 'Input shape: (1, 3, 32, 32)' in output
    assert re.search(r'\|\s*model\.network\.conv\s*\|', output)
    assert 'Unsupported operator prim::PythonOp' not in output


def test_get_flops_needs_a_config_or_table6(run_tool):
    result = run_tool('tools/analysis/get_flops.py', expect_ok=False)
    assert result.returncode != 0
    assert 'give either CONFIG or --acda-table6' in result.stderr


@pytest.mark.e2e
def test_acda_table6_is_counted_next_to_the_paper(run_tool):
    output = run_tool('tools/analysis/get_flops.py', '--acda-table6').stdout
    # Conv FLOPs of one 256-channel layer on 100x100 are exact:
    # 100 * 100 * 256 * 256 * k * k multiply-adds, in millions.
    for conv_flops in ('5,898.24', '16,384.00', '32,112.64'):
        assert conv_flops in output
    # ACDA's 1x1 coefficient conv: 256 * 256 * 6 parameters (0.39 M) at
    # every kernel size, as in the paper.
    assert re.search(
        r'Params ACDA \(conv only\)\s+0\.39 / 0\.39\s+0\.39 / 0\.39\s+'
        r'0\.39 / 0\.39', output)
