import pickle

import pytest
import torch


@pytest.mark.e2e
def test_test_tool_single_and_distributed_dump_the_same_predictions(
        run_tool, data_dir, small_sad, tmp_path):
    config = data_dir / 'sad_with_test_set.py'
    small_sad = [*small_sad, 'test_dataloader.dataset.num_samples=4',
                 'test_dataloader.dataset.size=32']
    run_tool('tools/train.py', config, '--work-dir', tmp_path, '--cfg-options',
             *small_sad, 'train_cfg.max_iters=2')
    checkpoint = tmp_path / 'iter_2.pth'
    single = run_tool('tools/test.py', config, checkpoint, '--work-dir',
                      tmp_path / 'single', '--out', tmp_path / 'single.pkl',
                      '--cfg-options', *small_sad)
    assert 'toy/mae' in single.stdout + single.stderr
    run_tool('tools/dist_test.sh', config, checkpoint, 2, '--work-dir',
             tmp_path / 'dist', '--out', tmp_path / 'dist.pkl',
             '--cfg-options', *small_sad)

    with open(tmp_path / 'single.pkl', 'rb') as f:
        single_results = pickle.load(f)
    with open(tmp_path / 'dist.pkl', 'rb') as f:
        dist_results = pickle.load(f)
    assert len(single_results) == len(dist_results) == 4
    for one, other in zip(single_results, dist_results):
        assert torch.equal(one['target'], other['target'])
        assert torch.allclose(one['pred'], other['pred'], atol=1e-6)


def test_test_tool_refuses_an_out_file_that_is_not_a_pickle(
        run_tool, data_dir, tmp_path):
    result = run_tool('tools/test.py', data_dir / 'sad_with_test_set.py',
                      tmp_path / 'missing.pth', '--out', tmp_path / 'x.json',
                      expect_ok=False)
    assert result.returncode != 0 and '--out must end with .pkl' in (
        result.stderr)
