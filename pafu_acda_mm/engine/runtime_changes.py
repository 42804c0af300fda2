"""What importing ``pafu_acda_mm.engine`` changes in mmengine, process-wide,
and the environment variables that turn each change off.

``import pafu_acda_mm`` and ``import pafu_acda_mm.layers`` change nothing
global (they register the layers in ``MODELS``). The engine, imported by the
integrations that configs name in ``custom_imports`` (``pafu_acda_mm.mmseg``,
``.mmpretrain``, ``.mmagic``, ``.toy``) and by the tools, applies
:data:`RUNTIME_CHANGES` once, each unless its variable is ``0`` when the
engine is imported, and logs what it applied.
"""
import functools
import os
from typing import Callable, NamedTuple, Tuple

from mmengine.logging import print_log

from .atomic_checkpoints import register_atomic_local_backend
from .safe_globals import allow_mmengine_checkpoint_globals


class RuntimeChange(NamedTuple):
    """One process-wide change and its switch.

    Args:
        variable (str): The environment variable; ``0`` turns it off.
        description (str): What it changes, for the log.
        apply (Callable): Applies it.
    """
    variable: str
    description: str
    apply: Callable[[], None]


RUNTIME_CHANGES = (
    RuntimeChange(
        'PAFU_ACDA_MM_ATOMIC_WRITES',
        "mmengine's local file writes (checkpoints included) are atomic",
        register_atomic_local_backend),
    RuntimeChange(
        'PAFU_ACDA_MM_WEIGHTS_ONLY_LOAD',
        'local checkpoints load weights-only, with the globals of mmengine '
        "checkpoints allowed, on every torch", allow_mmengine_checkpoint_globals),
)


def runtime_change_enabled(variable: str) -> bool:
    """Whether the change switched by ``variable`` is on.

    Args:
        variable (str): A :data:`RUNTIME_CHANGES` variable.

    Returns:
        bool: False where it is ``0``; True where it is ``1`` or unset.

    Raises:
        ValueError: For any other value.
    """
    value = os.environ.get(variable, '1')
    if value not in ('0', '1'):
        raise ValueError(f'{variable}={value!r}: expected 0 (off) or 1 (on, '
                         'the default)')
    return value == '1'


@functools.cache
def apply_runtime_changes() -> Tuple[str, ...]:
    """Apply every :data:`RUNTIME_CHANGES` entry that is on, and log them in
    one message. Runs once per process; ``import pafu_acda_mm.engine``
    calls it.

    Returns:
        tuple[str]: The variables of the changes applied.
    """
    applied = [
        change for change in RUNTIME_CHANGES
        if runtime_change_enabled(change.variable)
    ]
    for change in applied:
        change.apply()
    if applied:
        print_log(
            'pafu_acda_mm changed mmengine for this process: ' + '; '.join(
                f'{change.description} ({change.variable}=0 turns it off)'
                for change in applied) + '.',
            logger='current')
    return tuple(change.variable for change in applied)
