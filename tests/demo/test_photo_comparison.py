"""A short run of the photograph comparison: every method trains through
tools/train.py and tests through tools/test.py, and the table, the health
figures and the crops figure are written."""
import json
import re

import pytest
from config_e2e import run_tool


@pytest.mark.e2e
def test_comparison_trains_tests_and_writes_the_table(tmp_path):
    # Two pairs (SR and denoising, PAFU and ACDA) of the three: the ESPCN
    # configs train and test end to end in tests/mmagic.
    result = run_tool('tools/demo/run_photo_comparison.py', '--work-dir',
                      tmp_path, '--seeds', 1, '--iters-scale', 0.005,
                      '--test-max-size', 48, '--pairs', 'linear', 'denoise')
    report = (tmp_path / 'results.md').read_text()
    assert report in result.stdout
    number = r'[+-]?\d+\.\d+'
    for method in ('Bicubic', 'Linear filter bank (1 kernel)',
                   'Linear PAFU (16 kernels)', 'Noisy input', 'Plain net',
                   'ACDA net'):
        assert re.search(rf'\| {re.escape(method)} \| [^|]+\| [^|]+\| '
                         rf'{number} \| \d\.\d{{4}} \|', report), method
    assert 'ESPCN' not in report
    # The adaptive rows: the paired PSNR difference, and for PAFU the
    # selection health logged by tools/train.py's SelectionHealthHook.
    assert re.search(
        rf'\| Linear PAFU \(16 kernels\) \| [^|]+\| 3 \| [^|]+\| [^|]+\| '
        rf'{number} \| {number} \| {number} \| {number} \|', report)
    assert re.search(rf'\| ACDA net \| [^|]+\| 2 \| [^|]+\| [^|]+\| '
                     rf'{number} \| - \| - \| - \|', report)
    assert re.search(rf'ACDA net: coefficient .* {number}\.', report)
    assert (tmp_path / 'photo_crops.png').stat().st_size > 10_000

    runs = sorted(path.name for path in (tmp_path / 'runs').iterdir())
    assert runs == sorted(
        f'{method}_seed0' for method in
        ('linear-filter-bank-1-kernel', 'linear-pafu-16-kernels',
         'plain-net', 'acda-net'))
    for run in runs:
        assert 'Iter(test)' in (tmp_path / 'runs' / run /
                                'test.log').read_text()
    scalars, = (tmp_path / 'runs' / 'linear-pafu-16-kernels_seed0').glob(
        '*/vis_data/scalars.json')
    last = json.loads(scalars.read_text().splitlines()[-1])
    assert 1 <= last['pafu/generator.pafu/perplexity'] <= 16
