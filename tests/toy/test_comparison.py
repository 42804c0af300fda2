import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_comparison_script_writes_the_tables_and_figures(tmp_path):
    result = subprocess.run([
        sys.executable, 'tools/toy/run_comparison.py', '--work-dir',
        str(tmp_path), '--iters-scale', '0.005', '--seeds', '2',
        '--sad-methods', 'kpn', 'pafu', 'pafu-paper-budget',
        'pafu-fixed-kernels'
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    report = (tmp_path / 'results.md').read_text()
    assert report in result.stdout
    assert 'Val MAE, median of 2 seeds' in report
    rows = {
        row.split(' | ')[0][2:]: row.split(' | ')
        for row in report.splitlines() if row.startswith('| ')
    }
    for method in ('KPN', 'PAFU',
                   "PAFU, 36.9K-parameter selector (the paper's budget)",
                   'PAFU, kernels fixed to Dirac + zero (diagnostic)',
                   'Conv 7x7', 'ACDA 7x7'):
        assert method in rows
    assert 'FCNN' not in rows  # not asked for
    # Median, range and both seeds' errors; for a PAFU the pair count.
    median, spread, per_seed, pair = rows['PAFU'][2:6]
    low, high = map(float, spread.split(' - '))
    assert sorted(float(mae) for mae in per_seed.split(', ')) == [low, high]
    assert float(median) == pytest.approx((low + high) / 2, abs=1e-4)
    assert re.fullmatch(r'[0-2] of 2 seeds', pair)
    assert rows['KPN'][5] == '-'
    # The fixed kernels are the pair in every seed.
    assert rows['PAFU, kernels fixed to Dirac + zero (diagnostic)'][5] == (
        '2 of 2 seeds')
    assert 'PAFU: kernels (Frobenius norms)' in report
    for figure in ('sad_comparison.png', 'sad_pafu_selection_kernels.png',
                   'sad_pafu_paper_budget_selection_kernels.png',
                   'sad_pafu_fixed_kernels_selection_kernels.png',
                   'patterns_detection.png'):
        assert (tmp_path / figure).stat().st_size > 10_000
