import pytest
import torch

ITERS = 6


@pytest.mark.e2e
def test_two_cpu_processes_train_like_one_with_twice_the_batch(
        run_tool, data_dir, small_sad, tmp_path):
    """tools/dist_train.sh on a machine without CUDA: gloo, CPU DDP without
    find_unused_parameters; the ranks stay in sync and the loss curve is
    that of one process with the batches of both."""
    config = data_dir / 'sad_record.py'
    common = [*small_sad, f'train_cfg.max_iters={ITERS}']
    run_tool('tools/dist_train.sh', config, 2, '--work-dir',
             tmp_path / 'dist', '--cfg-options',
             'train_dataloader.batch_size=2', *common)
    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'single',
             '--cfg-options', 'train_dataloader.batch_size=4', *common)

    ranks = [torch.load(tmp_path / 'dist' / f'rank{r}.pth') for r in (0, 1)]
    single = torch.load(tmp_path / 'single' / 'rank0.pth')
    assert len(ranks[0]) == len(ranks[1]) == len(single) == ITERS
    for step0, step1 in zip(*ranks):
        assert step0['params'].keys() == step1['params'].keys()
        for name, value in step0['params'].items():
            assert torch.equal(value, step1['params'][name]), name
    # Each rank's loss is over its half of the batch; their mean is the
    # loss of the whole batch. PAFU's Gumbel noise differs between the runs
    # (each rank draws the noise of its own half), hence the tolerance.
    dist_loss = torch.tensor([[step['losses']['loss_l1'] for step in rank]
                              for rank in ranks]).mean(0)
    single_loss = torch.tensor([step['losses']['loss_l1'] for step in single])
    assert torch.allclose(dist_loss, single_loss, rtol=0.02, atol=0)
    assert single_loss[-1] < single_loss[0]
