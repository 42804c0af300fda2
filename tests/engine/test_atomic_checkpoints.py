import contextlib
import inspect
import logging
import resource
import signal
import uuid
from pathlib import Path

import config_e2e
import pytest
import torch
import torch.nn as nn
from mmengine.fileio import FileClient, get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner, save_checkpoint

# Importing the engine registers the atomic backend.
from pafu_acda_mm.engine import (AtomicLocalBackend, CrashSafeCheckpointHook,
                                 checkpoint_defect,
                                 find_readable_checkpoint)


@contextlib.contextmanager
def _file_size_limit(limit: int):
    """A full disk: writing a file past ``limit`` bytes fails with EFBIG
    (after writing up to the limit) instead of raising SIGXFSZ."""
    previous_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, previous_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, previous_limit)
        signal.signal(signal.SIGXFSZ, previous_handler)


def _checkpoint(path: Path, step: int) -> Path:
    """A small torch checkpoint at ``path``, written by mmengine."""
    save_checkpoint(
        dict(meta=dict(iter=step), weight=torch.full((256, ), float(step))),
        str(path))
    return path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@contextlib.contextmanager
def _warnings_logged():
    """The records at WARNING and above that ``print_log(logger='current')``
    emits in the block."""
    records = []

    class _Collect(logging.Handler):

        def emit(self, record):
            records.append(record)

    logger = MMLogger.get_instance(f'atomic_checkpoints_{uuid.uuid4().hex}')
    logger.addHandler(_Collect(level=logging.WARNING))
    yield records


def test_crash_safe_hook_overrides_upstream_private_method_as_it_is():
    """The override of a private method (no public point exists) keeps
    the installed mmengine's signature (setup.py pins the tested range)."""
    upstream = CheckpointHook._save_checkpoint_with_step
    override = CrashSafeCheckpointHook._save_checkpoint_with_step
    assert override is not upstream
    assert inspect.signature(override) == inspect.signature(upstream)


def test_import_registers_atomic_backends():
    assert type(get_file_backend('/any/local/path.pth')) is AtomicLocalBackend
    assert isinstance(FileClient(backend='disk').client, AtomicLocalBackend)


def test_put_replaces_the_file_whole(tmp_path):
    path = tmp_path / 'sub' / 'iter_1.pth'
    backend = get_file_backend(str(path))
    backend.put(b'old', path)
    backend.put(b'new contents', path)
    backend.put_text('text', tmp_path / 'last_checkpoint')
    assert path.read_bytes() == b'new contents'
    assert (tmp_path / 'last_checkpoint').read_text() == 'text'
    assert sorted(p.name for p in tmp_path.rglob('*')) == [
        'iter_1.pth', 'last_checkpoint', 'sub']


def test_write_failing_midway_keeps_the_previous_file(tmp_path):
    path = tmp_path / 'iter_1.pth'
    backend = get_file_backend(str(path))
    backend.put(b'previous', path)
    with _file_size_limit(1 << 16), pytest.raises(OSError):
        backend.put(bytes(1 << 20), path)
    assert path.read_bytes() == b'previous'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_1.pth']


def test_put_writes_through_a_symbolic_link(tmp_path):
    target = tmp_path / 'target.pth'
    target.write_bytes(b'old')
    link = tmp_path / 'link.pth'
    link.symlink_to(target)
    get_file_backend(str(link)).put(b'new', link)
    assert link.is_symlink() and target.read_bytes() == b'new'


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 64)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.linear(inputs).square().mean())


class _DiskFullAtIteration(Hook):
    """The disk fills up while the checkpoint of ``iteration`` is written."""

    def __init__(self, iteration: int, exit_stack: contextlib.ExitStack):
        self.iteration = iteration
        self.exit_stack = exit_stack

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner.iter + 1 == self.iteration:
            self.exit_stack.enter_context(_file_size_limit(4096))


def test_failed_checkpoint_write_leaves_last_checkpoint_on_the_previous(
        tmp_path):
    """mmengine's CheckpointHook: a checkpoint whose write fails is absent,
    and ``last_checkpoint`` still names the previous one, complete."""
    with contextlib.ExitStack() as exit_stack:
        runner = Runner(
            model=_TinyModel(),
            work_dir=str(tmp_path),
            experiment_name=f'atomic_{uuid.uuid4().hex}',
            train_dataloader=dict(
                dataset=[dict(inputs=torch.randn(64)) for _ in range(8)],
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=2),
            train_cfg=dict(by_epoch=False, max_iters=3),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            default_hooks=dict(
                checkpoint=dict(
                    type='CheckpointHook', interval=1, by_epoch=False)),
            custom_hooks=[_DiskFullAtIteration(2, exit_stack)])
        with pytest.raises(OSError):
            runner.train()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path /
                                                               'iter_1.pth')
    assert checkpoint_defect(str(tmp_path / 'iter_1.pth')) is None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('iter_2')]


@pytest.mark.parametrize('damage, defect', [
    (None, None),
    (_truncate, 'truncated'),
    (lambda path: path.write_bytes(b''), 'empty'),
    (lambda path: path.unlink(), 'FileNotFoundError'),
    (lambda path: path.write_bytes(
        path.read_bytes().replace(b'\x00\x00\x80\x3f', b'\x00\x00\x80\x40')),
     'corrupt member'),
])
def test_checkpoint_defect(tmp_path, damage, defect):
    path = _checkpoint(tmp_path / 'iter_1.pth', 1)
    if damage is not None:
        damage(path)
    found = checkpoint_defect(str(path))
    assert found is None if defect is None else defect in found


def test_legacy_format_is_left_to_torch(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'a': 1}, path, _use_new_zipfile_serialization=False)
    assert checkpoint_defect(str(path)) is None


def _run_with_checkpoints(work_dir: Path, *steps: int) -> list:
    """``iter_<step>.pth`` for ``steps``, ``last_checkpoint`` naming the
    last, as CheckpointHook leaves them."""
    paths = [_checkpoint(work_dir / f'iter_{step}.pth', step)
             for step in steps]
    (work_dir / 'last_checkpoint').write_text(str(paths[-1]))
    return paths


def test_readable_latest_checkpoint_is_chosen(tmp_path):
    paths = _run_with_checkpoints(tmp_path, 3, 6, 9)
    with _warnings_logged() as warnings:
        assert find_readable_checkpoint(str(tmp_path)) == str(paths[-1])
    assert not warnings


def test_truncated_latest_checkpoint_falls_back_with_one_warning(tmp_path):
    *_, previous, latest = _run_with_checkpoints(tmp_path, 3, 6, 9)
    _truncate(latest)
    # What a writer killed mid-write leaves; never a checkpoint.
    (tmp_path / 'iter_12.pth.0123456789ab.tmp').write_bytes(b'PK\x03\x04')
    with _warnings_logged() as warnings:
        assert find_readable_checkpoint(str(tmp_path)) == str(previous)
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(latest) in message and str(previous) in message


def test_empty_last_checkpoint_falls_back(tmp_path):
    *_, latest = _run_with_checkpoints(tmp_path, 3, 6)
    (tmp_path / 'last_checkpoint').write_text('')
    with _warnings_logged() as warnings:
        assert find_readable_checkpoint(str(tmp_path)) == str(latest)
    assert len(warnings) == 1


def test_nothing_readable_starts_from_scratch(tmp_path):
    for path in _run_with_checkpoints(tmp_path, 3, 6):
        _truncate(path)
    with _warnings_logged() as warnings:
        assert find_readable_checkpoint(str(tmp_path)) is None
    assert len(warnings) == 1
    assert 'starts from scratch' in warnings[0].getMessage()


def test_no_last_checkpoint_starts_from_scratch(tmp_path):
    _checkpoint(tmp_path / 'iter_3.pth', 3)
    with _warnings_logged() as warnings:
        assert find_readable_checkpoint(str(tmp_path)) is None
    assert not warnings


def test_config_custom_imports_make_checkpoint_writes_atomic(tmp_path):
    """Upstream tools import the plugin only through the config's
    custom_imports; that must suffice."""
    script = tmp_path / 'upstream_tool.py'
    script.write_text(
        'from mmengine.config import Config\n'
        'from mmengine.fileio import get_file_backend\n'
        "Config.fromfile('configs/pafu_sad/pafu_sad.py')\n"
        "print(type(get_file_backend('/a/iter_1.pth')).__name__)\n")
    result = config_e2e.run_tool(script)
    assert result.stdout.strip().endswith('AtomicLocalBackend')
