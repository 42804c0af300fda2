"""What every ACDA restoration config's two-iteration run must show."""
import re

from config_e2e import TrainTestRun, checkpoint_state_dict

# The last dynamic bottleneck's adaptive conv in the checkpoint.
ADAPTIVE_CONV = 'generator.body.7.adaptive_conv.conv.'


def check_restoration_run(run: TrainTestRun, config: str,
                          metrics: str) -> None:
    """Assert the loss, the validation and test metrics (regex ``metrics``)
    and the checkpoint's adaptive conv: an ACDA (6 atoms per channel of the
    64-channel bottleneck) for ``acda-net`` configs, a plain 7x7 conv
    otherwise."""
    assert re.search(r'Iter\(train\) \[2/2\].*loss: \d+\.\d+', run.train_log)
    assert re.search(r'Iter\(val\) \[2/2\]\s+' + metrics, run.train_log)
    assert run.checkpoint.name == 'iter_2.pth'
    assert re.search(r'Iter\(test\) \[2/2\]\s+' + metrics, run.test_log)
    state = checkpoint_state_dict(run.checkpoint)
    if '/acda-net' in config:
        assert state[ADAPTIVE_CONV + 'weight'].shape == (64, 64 * 6, 1, 1)
        assert ADAPTIVE_CONV + 'atom_generator.predict.weight' in state
    else:
        assert state[ADAPTIVE_CONV + 'weight'].shape == (64, 64, 7, 7)
