"""mmengine checkpoints load weights-only, on every supported torch.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``: torch >= 2.6
then loads weights-only and fails on the globals every mmengine checkpoint
carries (the message hub's ``HistoryBuffer``, numpy scalars and arrays), and
torch < 2.6 loads unsafely, running whatever code a checkpoint names.
:func:`allow_mmengine_checkpoint_globals` allow-lists exactly those globals
and makes mmengine's loader of local files (``resume``, ``load_from``,
``load_checkpoint``) load weights-only everywhere; a checkpoint with any other
global is refused with an ``UnpicklingError`` that names it and says how to
load it. ``import pafu_acda_mm.engine`` applies it unless
``PAFU_ACDA_MM_WEIGHTS_ONLY_LOAD=0`` (engine/runtime_changes.py).
"""
import os.path as osp
import pickle

import numpy as np
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

from ..torch_compat import add_safe_globals, load_weights_only

# Methods that `HistoryBuffer._set_default_statistics` registers; pickle
# stores them by reference, as `getattr(HistoryBuffer, name)`.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
# Data-only dtype classes of the numpy scalars and arrays that mmengine's
# message hub stores (logged values, counts, ETA).
_NUMPY_DTYPE_CLASSES = tuple(
    type(np.dtype(name)) for name in ('bool', 'int8', 'int16', 'int32',
                                      'int64', 'uint8', 'uint16', 'uint32',
                                      'uint64', 'float16', 'float32',
                                      'float64'))


def history_buffer_statistic(owner, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    Registered under the pickle name ``builtins.getattr``, so that it is
    the only ``getattr`` a weights-only load can call.

    Args:
        owner: Must be the ``HistoryBuffer`` class.
        name (str): A default statistics method name.

    Returns:
        Callable: ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: For any other owner or name.
    """
    if owner is not HistoryBuffer or name not in _HISTORY_BUFFER_STATISTICS:
        raise pickle.UnpicklingError(
            f'refused getattr({owner!r}, {name!r}) in a weights-only load: '
            'only HistoryBuffer statistics methods '
            f'{_HISTORY_BUFFER_STATISTICS} are allowed')
    return getattr(HistoryBuffer, name)


def mmengine_checkpoint_globals() -> list:
    """The globals of mmengine checkpoints, as ``add_safe_globals`` takes
    them (objects, or ``(object, pickle name)`` pairs)."""
    return [
        HistoryBuffer,
        (history_buffer_statistic, 'builtins.getattr'),
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        np.ndarray,
        np.dtype,
        *_NUMPY_DTYPE_CLASSES,
    ]


def load_local_checkpoint_weights_only(filename: str, map_location=None):
    """mmengine's loader of local checkpoints, loading weights-only.

    Args:
        filename (str): Checkpoint path (``~`` expanded).
        map_location: As ``torch.load``.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` is not a file.
        pickle.UnpicklingError: If it holds a global not allowed, saying
            how to load it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return load_weights_only(filename, map_location=map_location)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f'{filename} was refused by the weights-only loader that '
            'pafu_acda_mm installs in mmengine. If you trust the file, load '
            'it as mmengine does without the plugin: set '
            'PAFU_ACDA_MM_WEIGHTS_ONLY_LOAD=0 in the environment, or allow '
            "its globals first with pafu_acda_mm.torch_compat's "
            f'add_safe_globals. The loader said: {error}') from error


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for weights-only loads
    and make mmengine load local checkpoints weights-only, process-wide.
    Idempotent; ``import pafu_acda_mm.engine`` calls it (see the module
    docstring)."""
    add_safe_globals(mmengine_checkpoint_globals())
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(load_local_checkpoint_weights_only)
