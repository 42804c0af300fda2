import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / 'data'


@pytest.fixture
def data_dir() -> Path:
    """Configs and modules of the tools tests."""
    return DATA


@pytest.fixture
def small_sad() -> list:
    """``--cfg-options`` that shrink the shipped SAD demo to seconds:
    32x32 images, no validation before the end, no periodic logging or
    checkpoints."""
    return [
        'train_dataloader.dataset.num_samples=16',
        'train_dataloader.dataset.size=32', 'val_dataloader.dataset.size=32',
        'val_dataloader.dataset.num_samples=4', 'train_cfg.val_interval=1000',
        'default_hooks.logger.interval=1000',
        'default_hooks.checkpoint.interval=1000'
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def run_tool():
    """Run a tools/ command from the repository root with the test hooks
    importable; fail with its stderr unless it exits 0."""

    def run(*args, expect_ok=True):
        env = dict(os.environ,
                   PYTHONPATH=os.pathsep.join([str(DATA), str(REPO)]),
                   PYTHON_BIN=sys.executable, PORT=str(_free_port()))
        command = ([sys.executable, *map(str, args)]
                   if str(args[0]).endswith('.py') else
                   ['bash', *map(str, args)])
        result = subprocess.run(command, cwd=REPO, env=env,
                                capture_output=True, text=True)
        if expect_ok:
            assert result.returncode == 0, (result.stdout[-3000:] +
                                            result.stderr[-5000:])
        return result

    return run
