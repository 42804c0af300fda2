import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_comparison_script_writes_the_tables_and_figures(tmp_path):
    result = subprocess.run([
        sys.executable, 'tools/toy/run_comparison.py', '--work-dir',
        str(tmp_path), '--iters-scale', '0.005'
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    report = (tmp_path / 'results.md').read_text()
    assert report in result.stdout
    for method in ('| FCNN |', '| Residual FCNN |', '| KPN |', '| PAFU |',
                   "| PAFU, 36.9K-parameter selector (the paper's budget) |",
                   '| PAFU, kernels fixed', '| Conv 7x7 |', '| ACDA 7x7 |'):
        assert method in report
    assert 'PAFU: kernels (Frobenius norms)' in report
    for figure in ('sad_comparison.png', 'sad_pafu_selection_kernels.png',
                   'sad_pafu_paper_budget_selection_kernels.png',
                   'sad_pafu_fixed_kernels_selection_kernels.png',
                   'patterns_detection.png'):
        assert (tmp_path / figure).stat().st_size > 10_000
