"""Checkpoints survive a crash: atomic writes, and resume from the newest
readable checkpoint.

mmengine 0.10.7 writes a checkpoint in place (``open(path, 'wb')`` in
``LocalBackend.put``) and never fsyncs it: a process killed mid-write leaves
a truncated file at the final path (an overwritten checkpoint is lost with
it), and after a machine crash ``last_checkpoint`` can name a checkpoint
whose bytes never reached the disk; resuming from it fails in ``torch.load``.
:func:`register_atomic_local_backend` (called by ``import
pafu_acda_mm.engine``, so also through a config's ``custom_imports`` of a
codebase integration, unless ``PAFU_ACDA_MM_ATOMIC_WRITES=0``:
engine/runtime_changes.py) makes mmengine's local backend
write every file to a temporary file in the same folder, flush and fsync it
and rename it onto the final path: the path holds the old file or the
complete new one, never a part. ``CheckpointHook`` writes ``last_checkpoint``
itself, with a plain ``open``, but only after the checkpoint's ``put`` has
returned, so it never names a partial checkpoint; it is not atomic itself (a
kill within its few bytes' write leaves it empty), which
:func:`find_readable_checkpoint` treats as naming an unreadable file.
"""
import contextlib
import logging
import os
import os.path as osp
import re
import uuid
import zipfile
from pathlib import Path
from typing import Iterator, Optional, Union

import mmengine
from mmengine.fileio import (FileClient, HardDiskBackend, LocalBackend,
                             register_backend)
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import find_latest_checkpoint

# What CheckpointHook's default ``filename_tmpl`` names (by iteration or by
# epoch); temporary files (``iter_6.pth.<hex>.tmp``) and ``best_*`` do not
# match.
CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')
# The first bytes of a zip archive, torch.save's format since torch 1.6.
_ZIP_MAGIC = b'PK\x03\x04'


def _fsync_directory(folder: str) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems (FUSE, SMB) refuse fsync on a directory; the
        # rename has happened, only its durability is the file system's.
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(filepath: Union[str, Path],
                 mode: str = 'wb',
                 encoding: Optional[str] = None) -> Iterator:
    """Open a temporary file next to ``filepath`` that replaces it when the
    block ends without an exception.

    The temporary file, ``<name>.<random hex>.tmp`` in the folder of
    ``filepath`` (after resolving symbolic links, so that a link is written
    through as ``open`` does), is flushed and fsynced, renamed onto
    ``filepath`` with ``os.replace`` and the folder fsynced. On an exception
    it is removed and ``filepath`` is left as it was; a process killed
    inside the block leaves it behind.

    Args:
        filepath (str | Path): The final path; missing folders are created,
            as ``LocalBackend.put`` does.
        mode (str): ``'wb'`` or ``'w'``.
        encoding (str, optional): For ``'w'``.

    Yields:
        file: The open temporary file.
    """
    path = osp.realpath(filepath)
    folder, name = osp.split(path)
    mmengine.mkdir_or_exist(folder)
    temporary = osp.join(folder, f'{name}.{uuid.uuid4().hex[:12]}.tmp')
    try:
        # 'x': the name is new, and the mode honours the umask like 'w'.
        with open(temporary, 'x' + mode[1:], encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    _fsync_directory(folder)


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` write
    through :func:`atomic_write`."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to be written.
            filepath (str | Path): Path to write data.
        """
        with atomic_write(filepath, 'wb') as file:
            file.write(obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to be written.
            filepath (str | Path): Path to write data.
            encoding (str): Defaults to ``'utf-8'``.
        """
        with atomic_write(filepath, 'w', encoding=encoding) as file:
            file.write(obj)


class AtomicHardDiskBackend(HardDiskBackend, AtomicLocalBackend):
    """The deprecated ``FileClient``'s ``'disk'`` backend (used where a
    config still passes ``file_client_args``), writing atomically."""


def register_atomic_local_backend() -> None:
    """Register :class:`AtomicLocalBackend` as mmengine's ``'local'``
    backend (the one of paths without a ``scheme://``) and
    :class:`AtomicHardDiskBackend` as ``FileClient``'s ``'disk'``,
    process-wide. Idempotent; ``import pafu_acda_mm.engine`` calls it."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    FileClient.register_backend('disk', AtomicHardDiskBackend, force=True)


class _DeferredRemovals:
    """A file backend whose ``remove`` and ``rmtree`` only record the call
    in ``removals``; everything else is ``backend``'s."""

    def __init__(self, backend, removals: list):
        self._backend = backend
        self._removals = removals

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def remove(self, filepath) -> None:
        self._removals.append((self._backend.remove, filepath))

    def rmtree(self, dir_path) -> None:
        self._removals.append((self._backend.rmtree, dir_path))


@HOOKS.register_module()
class CrashSafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that removes a checkpoint past ``max_keep_ckpts``
    only once the next one and ``last_checkpoint`` are written.

    Upstream removes it first, so with ``max_keep_ckpts=1`` a crash while
    the next checkpoint is written would leave none. Same arguments as
    ``CheckpointHook``; ``tools/train.py`` uses it in its place.

    ``CheckpointHook`` has no public point between its removal and its
    save: this overrides its private ``_save_checkpoint_with_step``, hence
    setup.py's mmengine pin and a test that its signature is upstream's.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        backend, removals = self.file_backend, []
        self.file_backend = _DeferredRemovals(backend, removals)
        try:
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.file_backend = backend
        for remove, path in removals:
            remove(path)


def checkpoint_defect(filename: str) -> Optional[str]:
    """Why a local checkpoint cannot be loaded, found without loading it.

    A zip checkpoint (what ``torch.save`` writes) must have its central
    directory (a truncated file has none) and every member's CRC right.
    Files in torch's legacy format and remote paths (``scheme://``) are not
    checked.

    Args:
        filename (str): Checkpoint path.

    Returns:
        str | None: The defect, e.g. ``'truncated or corrupt zip archive:
        File is not a zip file'``; None if the file looks complete.
    """
    if '://' in filename:
        return None
    try:
        with open(filename, 'rb') as file:
            magic = file.read(len(_ZIP_MAGIC))
        if not magic:
            return 'empty file'
        if magic != _ZIP_MAGIC:
            return None
        with zipfile.ZipFile(filename) as archive:
            corrupt = archive.testzip()
    # What zipfile raises on damaged headers and names besides BadZipFile.
    except (zipfile.BadZipFile, EOFError, ValueError,
            NotImplementedError) as error:
        return f'truncated or corrupt zip archive: {error}'
    except OSError as error:
        return f'{type(error).__name__}: {error.strerror or error}'
    return None if corrupt is None else f'corrupt member {corrupt}'


def find_readable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint an auto-resume in ``work_dir`` should load: the one
    ``last_checkpoint`` names, or the newest readable one if that one is not.

    ``last_checkpoint`` is read by mmengine's ``find_latest_checkpoint``;
    without it the run starts from scratch, with mmengine's message, as
    upstream. If the file it names has a :func:`checkpoint_defect`, the
    newest (last modified, then highest step) readable ``iter_<n>.pth`` or
    ``epoch_<n>.pth`` in ``work_dir`` and in the named file's folder is
    chosen, with one warning naming both; if there is none, the warning
    says that training starts from scratch.

    Args:
        work_dir (str): The run's work directory.

    Returns:
        str | None: The checkpoint to resume from; None to start from
        scratch.
    """
    named = find_latest_checkpoint(work_dir)
    if named is None:
        return None
    defect = checkpoint_defect(named)
    if defect is None:
        return named
    folders = {osp.abspath(work_dir)}
    if named:  # an empty last_checkpoint names no folder
        folders.add(osp.dirname(osp.abspath(named)))
    candidates = []
    for folder in filter(osp.isdir, folders):
        with os.scandir(folder) as entries:
            for entry in entries:
                match = CHECKPOINT_NAME.match(entry.name)
                if match:
                    candidates.append(
                        (entry.stat().st_mtime_ns, int(match[1]), entry.path))
    chosen = next((path for *_, path in sorted(candidates, reverse=True)
                   if checkpoint_defect(path) is None), None)
    outcome = (f'resuming from {chosen}, the newest readable checkpoint'
               if chosen is not None else
               f'no readable checkpoint in {", ".join(sorted(folders))}: '
               'training starts from scratch')
    print_log(
        f'{osp.join(work_dir, "last_checkpoint")} names {named!r}, which is '
        f'unreadable ({defect}); {outcome}.',
        logger='current',
        level=logging.WARNING)
    return chosen
