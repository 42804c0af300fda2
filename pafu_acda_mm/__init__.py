"""PAFU and ACDA per-pixel adaptive convolutions for OpenMMLab.

Importing the package registers the layers in mmengine's ``MODELS`` and
changes nothing else. ``pafu_acda_mm.engine`` (imported by the codebase
integrations that configs name in ``custom_imports``, and by the tools)
applies the process-wide changes listed in engine/runtime_changes.py.
"""
from .layers import ACDA, PAFU  # noqa: F401  registers the layers in MODELS

__version__ = '0.1.0'
