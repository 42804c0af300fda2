"""PAFU and ACDA per-pixel adaptive convolutions for OpenMMLab.

Importing the package (directly, or through a config's ``custom_imports``)
registers the layers and the engine's hooks, allow-lists the globals of
mmengine checkpoints for torch's weights-only loading, so that ``resume`` and
``load_from`` work on torch >= 2.6 from every entry point, and makes
mmengine's local file writes (checkpoints included) atomic, so that a crash
never leaves a truncated checkpoint.
"""
from .engine import (allow_mmengine_checkpoint_globals,
                     register_atomic_local_backend)
from .layers import ACDA, PAFU  # noqa: F401  registers the layers in MODELS

allow_mmengine_checkpoint_globals()
register_atomic_local_backend()

__version__ = '0.1.0'
