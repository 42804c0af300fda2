import pytest
import torch

import pafu_acda_mm  # noqa: F401  loads mmengine checkpoints weights-only


@pytest.mark.e2e
def test_resumed_run_equals_uninterrupted_run_bitwise(run_tool, small_sad,
                                                      tmp_path):
    """torch 2.13 loads mmengine checkpoints weights-only: resume must work
    and, with the random streams restored (PAFU's Gumbel noise), continue
    exactly as the uninterrupted run."""
    options = [*small_sad, 'train_cfg.max_iters=6',
               'default_hooks.checkpoint.interval=3']
    config = 'configs/toy/sad_pafu_demo.py'
    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'full',
             '--cfg-options', *options)
    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'resumed',
             '--resume', tmp_path / 'full' / 'iter_3.pth', '--cfg-options',
             *options)

    full = torch.load(tmp_path / 'full' / 'iter_6.pth')
    resumed = torch.load(tmp_path / 'resumed' / 'iter_6.pth')
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
