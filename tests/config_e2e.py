"""Run a shipped config end to end as a user would: ``tools/train.py``
(shortened by ``--cfg-options``), then ``tools/test.py`` on the checkpoint it
saved, each a subprocess from the repository root."""
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple, Sequence

import pytest

from pafu_acda_mm.engine import load_local_checkpoint_weights_only

REPO = Path(__file__).resolve().parents[1]


class TrainTestRun(NamedTuple):
    train_log: str
    test_log: str
    checkpoint: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(script: str, *args, pythonpath: Sequence[Path] = (),
             expect_ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``python <script> <args>`` (or ``bash`` for a ``.sh``) from the
    repository root, with a free torchrun port and this interpreter.

    Args:
        script (str): E.g. ``'tools/train.py'`` or ``'tools/dist_train.sh'``.
        *args: Its arguments.
        pythonpath (Sequence[Path]): Extra import paths (test-only modules
            named in ``custom_imports``).
        expect_ok (bool): Whether the command must succeed; if False, it
            must fail.

    Returns:
        CompletedProcess: With text ``stdout`` and ``stderr``; the test
        fails with their tails unless the command exits as expected.
    """
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(map(str, [*pythonpath, REPO])),
               PYTHON_BIN=sys.executable, PORT=str(_free_port()))
    interpreter = 'bash' if str(script).endswith('.sh') else sys.executable
    result = subprocess.run([interpreter, str(script), *map(str, args)],
                            cwd=REPO, env=env, capture_output=True, text=True)
    assert (result.returncode == 0) == expect_ok, (
        f'{script} exited {result.returncode}:\n{result.stdout[-3000:]}'
        f'{result.stderr[-5000:]}')
    return result


def _log(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def train_and_test(config: str, work_dir: Path, cfg_options: Sequence[str],
                   pythonpath: Sequence[Path] = ()) -> TrainTestRun:
    """Train ``config`` with ``cfg_options``, then test its last checkpoint
    with the same options and the training dataset replaced by a bad value
    (testing must not build it). ``PAFU_ACDA_MM_E2E_TRAIN_ARGS`` in the
    environment adds arguments to ``tools/train.py`` (``--amp``:
    tools/gpu_check.sh's mixed-precision runs).

    Args:
        config (str): Path relative to the repository root.
        work_dir (Path): Training writes here, testing to ``work_dir/test``.
        cfg_options (Sequence[str]): ``key=value`` overrides for both runs.
        pythonpath (Sequence[Path]): As :func:`run_tool`.

    Returns:
        TrainTestRun: Both logs and the checkpoint tested.
    """
    train_log = _log(
        run_tool('tools/train.py', config, '--work-dir', work_dir,
                 *shlex.split(os.environ.get('PAFU_ACDA_MM_E2E_TRAIN_ARGS',
                                             '')),
                 '--cfg-options', *cfg_options, pythonpath=pythonpath))
    checkpoint = Path((work_dir / 'last_checkpoint').read_text().strip())
    # Testing must not touch the training data.
    test_log = _log(
        run_tool('tools/test.py', config, checkpoint, '--work-dir',
                 work_dir / 'test', '--cfg-options', *cfg_options,
                 'train_dataloader.dataset=/nonexistent/training/data',
                 pythonpath=pythonpath))
    return TrainTestRun(train_log, test_log, checkpoint)


def checkpoint_state_dict(checkpoint: Path) -> dict:
    """The ``state_dict`` of an mmengine checkpoint, loaded weights-only
    as mmengine loads it with the plugin imported."""
    return load_local_checkpoint_weights_only(str(checkpoint),
                                              'cpu')['state_dict']


def also_on_oldest_torch(configs: Sequence[str], chosen: str) -> list:
    """``configs`` as ``parametrize`` values, ``chosen`` marked
    ``oldest_torch``: the end-to-end run of its codebase that the test
    command repeats on torch 2.1."""
    if chosen not in configs:
        raise ValueError(f'{chosen} is not one of {configs}')
    return [
        pytest.param(config, marks=pytest.mark.oldest_torch)
        if config == chosen else config for config in configs
    ]
