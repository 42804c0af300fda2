"""``tools/train.py`` fine-tunes from a plain checkpoint (``load_from``)."""
import json

import pytest
import torch
import torch.nn as nn

from pafu_acda_mm.engine import build_model_from_config
from pafu_acda_mm.layers import PAFU

CONFIG = 'configs/pafu_sad/pafu_sad.py'


@pytest.mark.e2e
def test_load_from_a_plain_checkpoint_starts_the_pafu_as_the_conv(
        run_tool, small_sad, tmp_path):
    """``tools/train.py`` with ``load_from`` a checkpoint whose PAFU slot
    holds a plain conv: the run's log carries the summary line, and
    fine-tuning from there lowers the loss without NaN."""
    _, model = build_model_from_config(CONFIG)
    ((name, pafu), ) = [(name, m) for name, m in model.named_modules()
                        if isinstance(m, PAFU)]
    # The best single kernel of SAD: the identity (most pixels keep their
    # value); PAFU then learns the second, which dilates the black pixels.
    conv = nn.Conv2d(pafu.in_channels, pafu.out_channels, pafu.kernel_size,
                     padding=pafu.padding)
    nn.init.dirac_(conv.weight)
    nn.init.zeros_(conv.bias)
    state_dict = {f'{name}.{key}': value
                  for key, value in conv.state_dict().items()}
    checkpoint = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=state_dict), checkpoint)

    result = run_tool('tools/train.py', CONFIG, '--work-dir',
                      tmp_path / 'run', '--cfg-options', *small_sad,
                      f'load_from={checkpoint}', 'train_cfg.max_iters=12',
                      # A fine-tuning rate: Adam's first steps at the
                      # config's 1e-2 move every tap by about 1e-2.
                      'optim_wrapper.optimizer.lr=0.001',
                      'default_hooks.logger.interval=1')
    log = result.stdout + result.stderr
    assert ('Plain conv parameters converted into 1 adaptive layers '
            '(PAFU: 1)') in log
    scalars = [
        json.loads(line)
        for line in next(tmp_path.glob('run/*/vis_data/scalars.json')).open()
    ]
    losses = [s['loss_l1'] for s in scalars if 'loss_l1' in s]
    assert len(losses) == 12
    assert all(loss == loss for loss in losses)  # no NaN
    assert losses[-1] < losses[0]
