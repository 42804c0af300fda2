"""Let ``torch.load(weights_only=True)`` read mmengine's own checkpoints.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without that argument, so ``resume`` and ``load_from``
fail on the globals every mmengine checkpoint carries: the message hub's
``HistoryBuffer`` and numpy scalars/arrays. :func:`allow_mmengine_checkpoint_globals`
allow-lists exactly those; ``weights_only`` stays on, and a checkpoint with
any other global is still refused by torch's ``UnpicklingError``, which names
the global.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

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


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for weights-only loads,
    process-wide. Idempotent; ``import pafu_acda_mm`` calls it."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
