"""Test-only, through ``custom_imports``: the process kills itself with
SIGKILL halfway through writing its second checkpoint, as a preemption or
the OOM killer would."""
import itertools
import os
import signal

from mmengine.fileio import register_backend

from pafu_acda_mm.engine import AtomicLocalBackend, atomic_write

KILLED_AT_CHECKPOINT = 2
_checkpoints = itertools.count(1)


class KilledMidCheckpointBackend(AtomicLocalBackend):
    """The plugin's backend, up to the moment half of the
    :data:`KILLED_AT_CHECKPOINT`-th checkpoint's bytes are written."""

    def put(self, obj: bytes, filepath) -> None:
        if (str(filepath).endswith('.pth')
                and next(_checkpoints) == KILLED_AT_CHECKPOINT):
            with atomic_write(filepath, 'wb') as file:
                file.write(obj[:len(obj) // 2])
                file.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        super().put(obj, filepath)


register_backend('local', KilledMidCheckpointBackend, force=True, prefixes='')
