"""Synthetic toy tasks: datasets, a one-layer filter model and its metric."""
from .filter_model import SingleLayerFilter
from .mean_absolute_error import MeanAbsoluteError
from .sad import SADDataset, make_sad_sample

__all__ = [
    'MeanAbsoluteError', 'SADDataset', 'SingleLayerFilter', 'make_sad_sample'
]
