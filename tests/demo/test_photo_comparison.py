"""A short run of the photograph comparison: every method trains through
tools/train.py and tests through tools/test.py, a continued pair starts
from its plain model's checkpoint, the table, the health figures and the
crops figure are written, and a run repeated with its seed trains the same
weights."""
import importlib
import json
import re
import sys

import pytest
import torch
from config_e2e import REPO, checkpoint_state_dict, run_tool

from pafu_acda_mm.mmagic.photo_datasets import write_photo_datasets


def comparison_module():
    """tools/demo/run_photo_comparison.py, imported."""
    sys.path.insert(0, str(REPO / 'tools' / 'demo'))
    try:
        return importlib.import_module('run_photo_comparison')
    finally:
        sys.path.pop(0)


@pytest.mark.e2e
def test_comparison_trains_tests_and_writes_the_table(tmp_path):
    # Two pairs (SR and denoising, PAFU and ACDA) of the three, and the
    # ACDA net warm-started from the plain one: the ESPCN configs train and
    # test end to end in tests/mmagic.
    result = run_tool('tools/demo/run_photo_comparison.py', '--work-dir',
                      tmp_path, '--seeds', 1, '--iters-scale', 0.005,
                      '--test-max-size', 48, '--pairs', 'linear', 'denoise',
                      'denoise-warm')
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
    assert re.search(rf'\| Plain net, continued \| [^|]+\| 2 \+ 2 \| '
                     rf'{number} \| [^|]+\| - \|', report)
    assert re.search(rf'\| ACDA net from plain net \| [^|]+\| 2 \+ 2 \| '
                     rf'[^|]+\| [^|]+\| {number} \|', report)
    assert (tmp_path / 'photo_crops.png').stat().st_size > 10_000

    runs = sorted(path.name for path in (tmp_path / 'runs').iterdir())
    assert runs == sorted(
        f'{method}_seed0' for method in
        ('linear-filter-bank-1-kernel', 'linear-pafu-16-kernels',
         'plain-net', 'acda-net', 'plain-net-continued',
         'acda-net-from-plain-net'))
    for run in runs:
        assert 'Iter(test)' in (tmp_path / 'runs' / run /
                                'test.log').read_text()
    scalars, = (tmp_path / 'runs' / 'linear-pafu-16-kernels_seed0').glob(
        '*/vis_data/scalars.json')
    last = json.loads(scalars.read_text().splitlines()[-1])
    assert 1 <= last['pafu/generator.pafu/perplexity'] <= 16

    # The continued runs load the plain net's checkpoint; ACDA converts
    # its convs (the layers' summary line) instead of skipping them.
    plain_checkpoint = (tmp_path / 'runs' / 'plain-net_seed0' /
                        'last_checkpoint').read_text().strip()
    for run in ('plain-net-continued_seed0', 'acda-net-from-plain-net_seed0'):
        log = (tmp_path / 'runs' / run / 'train.log').read_text()
        assert f'Load checkpoint from {plain_checkpoint}' in log
    assert re.search(r'converted into 4 adaptive layers \(ACDA: 4\)', log)
    assert 'size mismatch' not in log

    # A run repeated with its seed, on the data sets written again
    # elsewhere, trains the same weights and scores the same: PAFU's Gumbel
    # noise, and a warm start on the denoising pairs.
    comparison = comparison_module()
    data = write_photo_datasets(tmp_path / 'again' / 'data',
                                comparison.SCALE, test_max_size=48)
    for key, name in (('linear', 'Linear PAFU (16 kernels)'),
                      ('denoise-warm', 'ACDA net from plain net')):
        pair = comparison.PAIRS_BY_KEY[key]
        method = next(m for m in pair.members if m.name == name)
        run = comparison.make_run(pair, method, 0, 0.005, tmp_path, data,
                                  120)
        again = comparison.train_and_test(
            run._replace(work_dir=tmp_path / 'again' / run.work_dir.name))
        assert (f'{name}, seed 0: PSNR {again["PSNR"]:.2f} dB'
                in result.stdout)
        original = checkpoint_state_dict(
            (run.work_dir / 'last_checkpoint').read_text().strip())
        repeated = checkpoint_state_dict(again['checkpoint'])
        assert original.keys() == repeated.keys()
        for weight in original:
            assert torch.equal(original[weight], repeated[weight]), weight
