import re

import pytest


@pytest.mark.e2e
def test_get_flops_counts_the_pafu_of_the_demo_config(run_tool):
    result = run_tool('tools/analysis/get_flops.py',
                      'configs/toy/sad_pafu_demo.py', '--shape', '32')
    output = result.stdout + result.stderr
    assert 'Input shape: (1, 3, 32, 32)' in output
    assert re.search(r'\|\s*model\.conv\s*\|', output)
    assert 'Unsupported operator prim::PythonOp' not in output


def test_get_flops_needs_a_config_or_table6(run_tool):
    result = run_tool('tools/analysis/get_flops.py', expect_ok=False)
    assert result.returncode != 0
    assert 'give either CONFIG or --acda-table6' in result.stderr
