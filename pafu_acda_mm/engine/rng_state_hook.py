"""Save the random generators' states in checkpoints and restore them on
resume, so that a resumed run draws the same random numbers (PAFU's Gumbel
noise, dropout, random augmentations in the main process) as an
uninterrupted one."""
import logging
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Carry the python, numpy, torch (and current CUDA device's) generator
    states through checkpoints.

    The state of the saving process (rank 0) is stored under
    ``checkpoint['rng_state']`` as tensors and plain python values (no extra
    pickle globals). On resume it is applied in ``before_train``, after
    everything the runner does while resuming, to every rank: with
    ``randomness.diff_rank_seed`` off (the default) all ranks draw the same
    stream, so that is exact. With ``diff_rank_seed`` on, the ranks' streams
    differ and cannot be restored from rank 0's, so they are left as seeded
    and a warning says so.

    Draws the runner makes outside the training iterations are not replayed:
    e.g. a validation run at the checkpoint's iteration creates a DataLoader
    iterator, which draws its base seed from torch's generator.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._resumed_state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        numpy_state = np.random.get_state()
        checkpoint['rng_state'] = dict(
            python=random.getstate(),
            numpy=(numpy_state[0], numpy_state[1].tolist(),
                   *numpy_state[2:]),
            torch=torch.get_rng_state(),
            cuda=(torch.cuda.get_rng_state()
                  if torch.cuda.is_initialized() else None))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_state = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        state, self._resumed_state = self._resumed_state, None
        # `load_from` (fine-tuning) starts at iteration 0 and keeps the
        # seeded streams; only a resumed run continues the saved ones.
        if state is None or runner.iter == 0 and runner.epoch == 0:
            return
        if runner.world_size > 1 and runner.cfg.get('randomness', {}).get(
                'diff_rank_seed', False):
            print_log(
                'RNGStateHook: randomness.diff_rank_seed is on, so the '
                'per-rank random streams cannot be restored from the '
                "checkpoint's (rank 0) state; they stay as seeded.",
                logger='current', level=logging.WARNING)
            return
        random.setstate(state['python'])
        name, keys, *rest = state['numpy']
        np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
        # `resume` maps checkpoints to the training device; the states
        # are CPU byte tensors.
        torch.set_rng_state(state['torch'].cpu())
        if state['cuda'] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state(state['cuda'].cpu())
        print_log('RNGStateHook: restored the random generator states of '
                  'the resumed checkpoint.', logger='current')
