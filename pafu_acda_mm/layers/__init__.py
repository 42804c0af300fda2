"""Pure-torch PAFU and ACDA layers, registered in mmengine's ``MODELS``."""
from .acda import ACDA, acda_conv2d
from .fourier_bessel import (fourier_bessel_bases,
                             multiscale_fourier_bessel_bases)
from .gumbel import straight_through_gumbel_softmax
from .pafu import PAFU, pafu_decorrelation_loss
from .pixel_predictor import PixelPredictor

__all__ = [
    'ACDA', 'PAFU', 'PixelPredictor', 'acda_conv2d', 'fourier_bessel_bases',
    'multiscale_fourier_bessel_bases', 'pafu_decorrelation_loss',
    'straight_through_gumbel_softmax'
]
