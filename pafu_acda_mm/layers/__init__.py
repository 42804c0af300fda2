"""Pure-torch PAFU and ACDA layers, registered in mmengine's ``MODELS``."""
from .acda import ACDA
from .acda_conv import acda_conv2d, acda_conv2d_taps
from .fourier_bessel import (fourier_bessel_bases,
                             multiscale_fourier_bessel_bases)
from .gumbel import gumbel_argmax, straight_through_gumbel_softmax
from .pafu import PAFU, pafu_decorrelation_loss
from .pixel_predictor import PixelPredictor
from ..ops import indexed_conv2d, selected_conv2d

__all__ = [
    'ACDA', 'PAFU', 'PixelPredictor', 'acda_conv2d', 'acda_conv2d_taps',
    'fourier_bessel_bases', 'gumbel_argmax', 'indexed_conv2d',
    'multiscale_fourier_bessel_bases', 'pafu_decorrelation_loss',
    'selected_conv2d', 'straight_through_gumbel_softmax'
]
