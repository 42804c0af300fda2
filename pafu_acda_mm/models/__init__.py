"""Codebase-free model plumbing shared by the mmpretrain, mmseg (and mmagic)
integrations: the PAFU decorrelation loss term and in-place conv swaps."""
from .conv_replacement import build_conv_like
from .decorrelation import PAFUDecorrelationMixin

__all__ = ['PAFUDecorrelationMixin', 'build_conv_like']
