import signal

import pytest
import torch

import pafu_acda_mm.engine  # noqa: F401  weights-only checkpoint loading


@pytest.mark.e2e
@pytest.mark.oldest_torch
def test_resumed_run_equals_uninterrupted_run_bitwise(run_tool, small_sad,
                                                      tmp_path):
    """mmengine checkpoints load weights-only on every torch (on torch < 2.6
    through the plugin's restricted unpickler): resume must work
    and, with the random streams restored (PAFU's Gumbel noise), continue
    exactly as the uninterrupted run."""
    options = [*small_sad, 'train_cfg.max_iters=6',
               'default_hooks.checkpoint.interval=3']
    config = 'configs/pafu_sad/pafu_sad.py'
    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'full',
             '--cfg-options', *options)
    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'resumed',
             '--resume', tmp_path / 'full' / 'iter_3.pth', '--cfg-options',
             *options)

    _assert_same_training_state(
        torch.load(tmp_path / 'full' / 'iter_6.pth'),
        torch.load(tmp_path / 'resumed' / 'iter_6.pth'))


def _assert_same_training_state(full: dict, resumed: dict) -> None:
    """Two checkpoints of the same iteration hold the same weights,
    optimizer state and random state, bitwise."""
    assert resumed['meta']['iter'] == full['meta']['iter'] == 6
    assert full['state_dict'].keys() == resumed['state_dict'].keys()
    for name, value in full['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][name]), name
    full_state = full['optimizer']['state']
    resumed_state = resumed['optimizer']['state']
    assert full_state.keys() == resumed_state.keys() and full_state
    for index, state in full_state.items():
        for key, value in state.items():
            assert torch.equal(value, resumed_state[index][key]), (index, key)
    assert torch.equal(full['rng_state']['torch'],
                       resumed['rng_state']['torch'])


CONFIG = 'configs/pafu_sad/pafu_sad.py'
TWO_CHECKPOINTS = [
    'train_cfg.max_iters=6', 'default_hooks.checkpoint.interval=3'
]


@pytest.mark.e2e
def test_resume_skips_a_truncated_latest_checkpoint(run_tool, small_sad,
                                                    tmp_path):
    """A latest checkpoint truncated by a crash (of a writer that is not
    atomic): ``--resume`` resumes from the previous one, saying so, and
    trains again what the truncated one held; an explicit ``--resume`` of
    it is refused, naming it."""
    options = [*small_sad, *TWO_CHECKPOINTS]
    run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path,
             '--cfg-options', *options)
    latest, previous = tmp_path / 'iter_6.pth', tmp_path / 'iter_3.pth'
    uninterrupted = torch.load(latest)
    data = latest.read_bytes()
    latest.write_bytes(data[:len(data) // 2])

    refused = run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path,
                       '--resume', latest, '--cfg-options', *options,
                       expect_ok=False)
    assert f'cannot resume from {latest}' in refused.stderr

    resumed = run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path,
                       '--resume', '--cfg-options', *options)
    log = resumed.stdout + resumed.stderr
    warnings = [line for line in log.splitlines() if 'unreadable' in line]
    assert len(warnings) == 1
    assert str(latest) in warnings[0] and str(previous) in warnings[0]
    assert 'resumed epoch: 0, iter: 3' in log
    _assert_same_training_state(uninterrupted, torch.load(latest))


@pytest.mark.e2e
@pytest.mark.parametrize('max_keep_ckpts', [-1, 1])
def test_run_killed_mid_checkpoint_resumes_without_loss(
        run_tool, small_sad, tmp_path, max_keep_ckpts):
    """SIGKILL halfway through writing the second checkpoint: the first one
    (also when only one is kept: upstream would have removed it already)
    and ``last_checkpoint`` are intact, the partial bytes only in a
    temporary file, and ``--resume`` ends bitwise where an uninterrupted
    run does."""
    options = [
        *small_sad, *TWO_CHECKPOINTS,
        f'default_hooks.checkpoint.max_keep_ckpts={max_keep_ckpts}'
    ]
    run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path / 'full',
             '--cfg-options', *options)
    # Old checkpoints are still removed, once the next one is written.
    assert (tmp_path / 'full' / 'iter_3.pth').exists() == (max_keep_ckpts < 0)
    work_dir = tmp_path / 'killed'
    killed = run_tool(
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        *options, 'custom_imports.imports=[pafu_acda_mm.toy,checkpoint_kill]',
        expect_ok=False)
    assert killed.returncode == -signal.SIGKILL
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                               'iter_3.pth')
    assert (work_dir / 'iter_3.pth').is_file()
    assert not (work_dir / 'iter_6.pth').exists()
    assert len(list(work_dir.glob('iter_6.pth.*.tmp'))) == 1

    run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--resume',
             '--cfg-options', *options)
    _assert_same_training_state(torch.load(tmp_path / 'full' / 'iter_6.pth'),
                                torch.load(work_dir / 'iter_6.pth'))
