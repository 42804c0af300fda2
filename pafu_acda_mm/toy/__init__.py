"""The papers' synthetic experiments, trainable through mmengine's Runner:
SAD (PAFU paper 3.2) and multi-scale pattern detection (ACDA paper 3.3).

Datasets generated from a seed, the compared networks (one adaptive layer,
FCNN, residual FCNN, KPN), the dense-regression model and the metrics.
"""
from .. import engine  # noqa: F401  applies engine/runtime_changes.py
from .centre_detection import CentreDetection
from .dense_error import DenseError
from .dense_regressor import DenseRegressor, PAFUDenseRegressor
from .fcnn import FCNN
from .kpn import KPN
from .patterns import (PatternDetectionDataset, make_pattern_sample,
                       pattern_template)
from .sad import SADDataset, make_sad_sample, sad_grid
from .sad_optimal_kernels import (PAPERS_PAIR_DIRAC_TOLERANCE,
                                  PAPERS_PAIR_ZERO_TOLERANCE,
                                  SADOptimalPAFUKernels, dirac_kernel,
                                  is_papers_kernel_pair)
from .single_layer import SingleLayer
from .training import train_and_validate

__all__ = [
    'PAPERS_PAIR_DIRAC_TOLERANCE', 'PAPERS_PAIR_ZERO_TOLERANCE',
    'CentreDetection', 'DenseError', 'DenseRegressor', 'FCNN', 'KPN',
    'PAFUDenseRegressor', 'PatternDetectionDataset', 'SADDataset',
    'SADOptimalPAFUKernels', 'SingleLayer', 'dirac_kernel',
    'is_papers_kernel_pair',
    'make_pattern_sample', 'make_sad_sample', 'pattern_template', 'sad_grid',
    'train_and_validate'
]
