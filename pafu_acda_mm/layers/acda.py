"""ACDA: adaptive convolution with per-pixel dynamic atoms (Wang et al. 2021)."""
from functools import partial
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .acda_conv import acda_conv2d, acda_conv2d_taps
from .conv_geometry import Conv2dGeometry
from .conv_warm_start import acda_params_from_conv
from .fourier_bessel import (fourier_bessel_bases,
                             multiscale_fourier_bessel_bases)
from .onnx_export import acda_onnx_forward
from .pixel_predictor import PixelPredictor
from .plain_conv_loading import PlainConvLoading, constant_prediction_entries
from ..torch_compat import is_compiling


def _disc_kernel_size(kernel_size) -> int:
    """The side of ``kernel_size``'s square support: 1, or odd >= 3."""
    if (isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 2
            and kernel_size[0] == kernel_size[1]):
        kernel_size = kernel_size[0]
    if not isinstance(kernel_size, int) or kernel_size < 1 or (
            kernel_size % 2 == 0):
        raise ValueError(
            'ACDA needs kernel_size 1 or an odd square size >= 3 (an int or '
            f'an equal pair), got {kernel_size!r}: its Fourier-Bessel bases '
            'live on a disc centred in a square support (an elliptic one '
            'would need other functions than Bessel\'s). Keep such a conv '
            'plain: give conv_cfg=dict(type=\'ACDA\') only to modules whose '
            'convs are square and odd, or PAFU, which takes any kernel_size')
    return kernel_size


@MODELS.register_module('ACDA')
class ACDA(PlainConvLoading, Conv2dGeometry):
    """Adaptive convolution with per-pixel dynamic atoms.

    At every output pixel a small CNN (the atom generator) predicts
    coefficients ``alpha`` of ``num_atoms`` atoms over fixed multi-scale
    Fourier-Bessel bases ``psi``; the pixel's filter is ``K_ij = A . D_ij``
    with atoms ``D_ij = alpha_ij psi`` and a learned, spatially shared
    coefficient tensor ``A``. Computed as an atom convolution followed by a
    1x1 coefficient convolution (see :func:`acda_conv2d`), which equals the
    per-pixel filter exactly. Loading a plain conv's ``weight`` and ``bias``
    makes the layer that conv's best approximation, with static atoms
    (:func:`acda_params_from_conv`).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple[int, int]): Size of the largest basis scale
            and of the per-pixel filters: odd and square, or 1. At 1x1 the
            one Fourier-Bessel basis is the constant, so the layer is a
            per-pixel mixture of ``num_atoms`` 1x1 convs (``A`` weighted by
            the predicted coefficients).
        stride, dilation (int | tuple[int, int]): As ``nn.Conv2d``.
            Default: 1, 1.
        padding (int | tuple[int, int] | str): As ``nn.Conv2d``
            (``'same'``, ``'valid'`` included). Default: 0.
        groups (int): As ``nn.Conv2d``; the atoms are shared by all groups,
            the coefficient conv ``A`` is grouped. Default: 1.
        bias (bool): Add a learned bias. Default: True.
        padding_mode (str): As ``nn.Conv2d``. Default: ``'zeros'``.
        num_atoms (int): Atoms ``m`` per pixel. Default: 6.
        num_bases (int): Fourier-Bessel bases ``m'`` per scale of size 3 or
            more (the 1x1 scale has one). Default: 6.
        scales (Sequence[int], optional): Odd basis support sizes, each in
            ``[3, kernel_size]``. Default: every odd size from 3 to
            ``kernel_size`` (the ACDA authors' code: 7x7 uses 3/5/7, 5x5 uses
            3/5); ``(1,)`` at 1x1.
        generator_cfg (dict, optional): Overrides of :class:`PixelPredictor`
            arguments for the atom generator. Default: the paper's (appendix
            A.3) 1x1 conv to 64 channels, ReLU, 3x3 conv to ``m * S * m'``,
            with the Tanh of the authors' public generator on the
            coefficients (``out_act_cfg=None`` drops it): unbounded, they
            make the layer's output quadratic in its input, which overflows
            in deep stacks (every conv of a ResNet) in eval mode before the
            BatchNorm statistics adapt.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 num_atoms: int = 6,
                 num_bases: int = 6,
                 scales: Optional[Sequence[int]] = None,
                 generator_cfg: Optional[dict] = None):
        kernel_size = _disc_kernel_size(kernel_size)
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, padding_mode)
        if kernel_size == 1:
            scales, num_bases = (1, ) if scales is None else scales, 1
            smallest = 1
        else:
            smallest = 3
        if scales is None:
            scales = tuple(range(3, kernel_size + 1, 2))
        scales = tuple(scales)
        if (not scales or len(set(scales)) != len(scales)
                or kernel_size not in scales
                or any(not isinstance(s, int) or s < smallest or s % 2 == 0
                       or s > kernel_size for s in scales)):
            raise ValueError(
                f'scales must be distinct odd sizes in [{smallest}, '
                f'kernel_size] that include kernel_size={kernel_size}, got '
                f'{scales!r}')
        if not isinstance(num_atoms, int) or num_atoms < 1:
            raise ValueError(
                f'num_atoms must be a positive int, got {num_atoms!r}')
        self.num_atoms = num_atoms
        self.scales = scales
        for index, scale in enumerate(scales):
            self.register_buffer(
                f'fb_bases_{index}',
                fourier_bessel_bases(scale, num_bases).float(),
                persistent=False)
        # Static Python list: branching on tensors would break compilation.
        self.nonzero_taps = (multiscale_fourier_bessel_bases(
            scales, num_bases).abs().sum(0).flatten() > 0).nonzero().flatten(
            ).tolist()
        total_bases = len(scales) * num_bases
        self.atom_generator = PixelPredictor(
            in_channels, num_atoms * total_bases,
            **dict(dict(mid_channels=64, out_act_cfg=dict(type='Tanh')),
                   **(generator_cfg or {})))
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups * num_atoms, 1,
                        1))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.init_weights()

    @property
    def fb_bases(self) -> Tuple[torch.Tensor, ...]:
        """Fixed Fourier-Bessel bases, per scale ``(m', l_s, l_s)``."""
        return tuple(
            getattr(self, f'fb_bases_{i}') for i in range(len(self.scales)))

    def init_weights(self) -> None:
        """Kaiming-normal (fan-out) ``A`` as the ACDA authors, zero bias."""
        nn.init.kaiming_normal_(self.weight, mode='fan_out',
                                nonlinearity='relu')
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _params_from_conv(self, weight: torch.Tensor,
                          bias: Optional[torch.Tensor]):
        """Static atoms and ``A`` for a plain conv's ``weight`` and
        ``bias``, and the approximation's relative residual."""
        params = acda_params_from_conv(weight, bias, self.fb_bases,
                                       self.num_atoms)
        generator = constant_prediction_entries(self.atom_generator,
                                                params.coefficients)
        entries = dict(weight=params.weight, bias=params.bias)
        entries.update(
            {f'atom_generator.{k}': v for k, v in generator.items()})
        return entries, params.relative_residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x (Tensor): ``(B, in_channels, H, W)``, or unbatched
                ``(in_channels, H, W)``.

        Returns:
            Tensor: ``(B, out_channels, H_out, W_out)`` with ``nn.Conv2d``'s
            output size for the same arguments (without ``B`` for an
            unbatched input).
        """
        return self._forward_impl()(x)

    def _forward_impl(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The one dispatch on export: ``torch.onnx.export`` traces standard
        operators (:func:`acda_onnx_forward`, exact in eval mode), anything
        else runs :meth:`_adaptive_conv`."""
        if torch.onnx.is_in_onnx_export():
            return partial(acda_onnx_forward, self)
        return self._adaptive_conv

    def _adaptive_conv(self, x: torch.Tensor) -> torch.Tensor:
        """``y_ij = (A . alpha_ij psi) * x_ij``: the atom generator predicts
        the coefficients ``alpha_ij`` at every output pixel, the atom conv
        applies the pixels' filters. Shapes as :meth:`forward`."""
        x, unbatched = self.batched_input(x)
        x, padding = self.pad_input(x)
        alpha = self.atom_generator(x, self.kernel_size, self.stride, padding,
                                    self.dilation)
        out = self._atom_conv(x, alpha, self.fb_bases, self.weight, self.bias,
                              self.stride, padding, self.dilation, self.groups)
        return out[0] if unbatched else out

    def _atom_conv(self, *args) -> torch.Tensor:
        """The one dispatch on compilation, between two exact formulations:
        ``torch.compile`` fuses the tap formulation
        (:func:`acda_conv2d_taps`), eager mode runs the basis one
        (:func:`acda_conv2d`). Arguments as :func:`acda_conv2d`."""
        if is_compiling():
            return acda_conv2d_taps(*args, taps=self.nonzero_taps)
        return acda_conv2d(*args)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, num_atoms={self.num_atoms}, '
                f'scales={self.scales}')
