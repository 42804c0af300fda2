"""PAFU and ACDA per-pixel adaptive convolutions for OpenMMLab."""
from .layers import ACDA, PAFU  # noqa: F401  registers the layers in MODELS

__version__ = '0.1.0'
