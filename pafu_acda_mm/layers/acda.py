"""ACDA: adaptive convolution with per-pixel dynamic atoms (Wang et al. 2021)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

from .conv_geometry import Conv2dGeometry
from .conv_warm_start import acda_params_from_conv
from .fourier_bessel import (fourier_bessel_bases,
                             multiscale_fourier_bessel_bases)
from .onnx_export import acda_onnx_forward
from .pixel_predictor import PixelPredictor
from .plain_conv_loading import PlainConvLoading, constant_prediction_entries
from ..ops.memory_format import to_channels_last
from ..ops.row_images import as_image
from ..torch_compat import is_compiling


def _pad_or_crop(x: torch.Tensor, padding: Tuple[int, int]):
    """Split ``padding`` into a crop applied now and a non-negative rest.

    ``F.conv2d`` takes only non-negative padding; a negative amount is a crop.
    """
    crop = [min(p, 0) for p in padding]
    if any(crop):
        x = F.pad(x, [crop[1], crop[1], crop[0], crop[0]])
    return x, tuple(max(p, 0) for p in padding)


def acda_conv2d(x: torch.Tensor,
                coeffs: torch.Tensor,
                bases: Sequence[torch.Tensor],
                weight: torch.Tensor,
                bias: Optional[torch.Tensor] = None,
                stride: Tuple[int, int] = (1, 1),
                padding: Tuple[int, int] = (0, 0),
                dilation: Tuple[int, int] = (1, 1),
                groups: int = 1) -> torch.Tensor:
    """Apply the per-pixel filters ``K_ij = A . (alpha_ij psi)`` to ``x``.

    The atom convolution never materialises atoms or unfolds ``x``: since
    ``D_ij = alpha_ij psi`` is linear in fixed bases, each basis is one
    depthwise convolution of ``x`` at the basis' native size, then
    a per-pixel ``(m x m') @ (m' x C_in)`` product with the coefficients,
    summed over scales (one product per scale: stacking all scales'
    responses would hold every response twice). The coefficient
    convolution ``A`` is a 1x1 conv.

    Args:
        x (Tensor): Input ``(B, C_in, H, W)``.
        coeffs (Tensor): Basis coefficients ``alpha``,
            ``(B, m * S * m', H_out, W_out)``; channel ``a * S * m' + k``
            weighs basis ``k`` in atom ``a``.
        bases (Sequence[Tensor]): Per scale, ``(m', l_s, l_s)`` with odd
            ``l_s``, all centred on the same pixel; the largest ``l_s`` is
            the kernel size ``k``.
        weight (Tensor): Coefficient conv ``A``,
            ``(C_out, C_in // groups * m, 1, 1)``; input channel
            ``c * m + a`` is atom ``a`` applied to input channel ``c``.
        bias (Tensor, optional): ``(C_out,)``.
        stride, padding, dilation (tuple[int, int]): As ``nn.Conv2d`` with
            kernel size ``k``.
        groups (int): As ``nn.Conv2d``.

    Returns:
        Tensor: ``(B, C_out, H_out, W_out)``, the output size of
        ``nn.Conv2d`` with the same arguments, in ``x``'s memory format.
    """
    batch, in_channels = x.shape[:2]
    out_h, out_w = coeffs.shape[-2:]
    num_bases = sum(b.shape[0] for b in bases)
    num_atoms = coeffs.shape[1] // num_bases
    kernel_size = max(b.shape[-1] for b in bases)
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    x_cl = to_channels_last(x)
    # (N, m, S*m') viewed from channels-last coefficients, N = B*H_out*W_out.
    alpha = coeffs.permute(0, 2, 3, 1).reshape(-1, num_atoms, num_bases)

    atom_out = None  # (N, m, C_in)
    first = 0
    for scale_bases in bases:
        count, size = scale_bases.shape[0], scale_bases.shape[-1]
        # A smaller scale sits centred in the k x k window.
        scale_padding = tuple(p - d * ((kernel_size - size) // 2)
                              for p, d in zip(padding, dilation))
        x_in, scale_padding = _pad_or_crop(x_cl, scale_padding)
        # One depthwise conv per basis: oneDNN's fast depthwise kernels
        # (forward and backward) need a channel multiplier of 1.
        responses = torch.stack([
            F.conv2d(x_in,
                     basis.expand(in_channels, 1, size, size).contiguous(),
                     None, stride, scale_padding, dilation,
                     in_channels).permute(0, 2, 3, 1)
            for basis in scale_bases.to(x.dtype).unsqueeze(1)
        ], dim=-2).view(-1, count, in_channels)  # (N, m', C_in)
        # (N, m, m') @ (N, m', C_in): long rows keep the batched GEMMs
        # efficient (docs/benchmarks.md).
        scale_alpha = alpha[:, :, first:first + count]
        atom_out = (torch.bmm(scale_alpha, responses) if atom_out is None else
                    torch.baddbmm(atom_out, scale_alpha, responses))
        first += count

    return _coefficient_conv(atom_out, weight, bias, (batch, out_h, out_w),
                             groups, channels_last)


def acda_conv2d_taps(x: torch.Tensor,
                     coeffs: torch.Tensor,
                     bases: Sequence[torch.Tensor],
                     weight: torch.Tensor,
                     bias: Optional[torch.Tensor] = None,
                     stride: Tuple[int, int] = (1, 1),
                     padding: Tuple[int, int] = (0, 0),
                     dilation: Tuple[int, int] = (1, 1),
                     groups: int = 1,
                     taps: Optional[Sequence[int]] = None) -> torch.Tensor:
    """:func:`acda_conv2d` as a shift-and-accumulate over the filter taps.

    Builds the per-pixel atoms ``(B, H_out, W_out, m, k * k)`` and adds, per
    tap, the shifted input window in channels-last rows times that tap's
    atom weights. Eager mode pays one full-size temporary per tap, but
    ``torch.compile`` fuses forward and backward into single loops
    vectorised over the channels, where it beats :func:`acda_conv2d`;
    :class:`ACDA` uses it only while being compiled. Same arguments and
    result as :func:`acda_conv2d`, plus:

    Args:
        taps (Sequence[int], optional): Flat indices ``u * k + v`` of the taps
            where any basis is non-zero (a Python list: the disc's corners
            are zero for every basis). Default: all ``k * k``.
    """
    batch, in_channels = x.shape[:2]
    out_h, out_w = coeffs.shape[-2:]
    kernel_size = max(b.shape[-1] for b in bases)
    flat_bases = torch.cat([
        F.pad(b, [(kernel_size - b.shape[-1]) // 2] * 4) for b in bases
    ]).to(x.dtype).flatten(1)  # (S*m', k*k)
    num_atoms = coeffs.shape[1] // flat_bases.shape[0]
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    atoms = torch.matmul(
        coeffs.permute(0, 2, 3, 1).reshape(batch, out_h, out_w, num_atoms,
                                           -1), flat_bases)
    x, padding = _pad_or_crop(x, padding)
    rows = F.pad(x, [padding[1], padding[1], padding[0], padding[0]]).permute(
        0, 2, 3, 1)  # (B, H_pad, W_pad, C_in)
    atom_out = None  # (B, H_out, W_out, m, C_in)
    for tap in (range(kernel_size**2) if taps is None else taps):
        row = tap // kernel_size * dilation[0]
        col = tap % kernel_size * dilation[1]
        window = rows[:, row:row + (out_h - 1) * stride[0] + 1:stride[0],
                      col:col + (out_w - 1) * stride[1] + 1:stride[1], None]
        term = window * atoms[..., tap, None]
        atom_out = term if atom_out is None else atom_out + term
    return _coefficient_conv(
        atom_out.reshape(-1, num_atoms, in_channels), weight, bias,
        (batch, out_h, out_w), groups, channels_last)


def _coefficient_conv(atom_out: torch.Tensor, weight: torch.Tensor,
                      bias: Optional[torch.Tensor], out_size: Tuple[int, int,
                                                                    int],
                      groups: int, channels_last: bool) -> torch.Tensor:
    """The 1x1 coefficient conv ``A`` on the atom responses.

    Args:
        atom_out (Tensor): ``(B * H_out * W_out, m, C_in)``, channels-last
            rows.
        weight, bias, groups: As :func:`acda_conv2d`.
        out_size (tuple[int, int, int]): ``(B, H_out, W_out)``.
        channels_last (bool): The output's memory format.

    Returns:
        Tensor: ``(B, C_out, H_out, W_out)``.
    """
    num_atoms, in_channels = atom_out.shape[1:]
    out_channels = weight.shape[0]
    # A grouped 1x1 conv of the rows as an image (ops/row_images.py); input
    # channels group-major, then atom, then channel (a view for groups=1).
    rows = atom_out.view(-1, num_atoms, groups,
                         in_channels // groups).transpose(1, 2).reshape(
                             -1, num_atoms * in_channels)
    kernel = weight.view(out_channels, in_channels // groups,
                         num_atoms).transpose(1, 2).reshape(
                             out_channels, -1, 1, 1)
    if is_compiling() or torch.jit.is_tracing():
        # A grouped matmul: inductor (torch 2.13) fails to lower the conv
        # under dynamic shapes ("cannot determine truth value of
        # Relational"), and in a jit trace (FLOP counts, engine/flops.py) the
        # einsum tells the coefficient conv from the depthwise ones.
        out = torch.einsum(
            'ngi,goi->ngo', rows.view(-1, groups, rows.shape[1] // groups),
            kernel.view(groups, out_channels // groups, -1))
        out = out.reshape(*out_size, out_channels).permute(0, 3, 1, 2)
        if bias is not None:
            out = out + bias.to(out.dtype).view(1, -1, 1, 1)
    else:
        out = F.conv2d(as_image(rows, out_size), kernel, bias, groups=groups)
    memory_format = (
        torch.channels_last if channels_last else torch.contiguous_format)
    return out.contiguous(memory_format=memory_format)


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
        if torch.onnx.is_in_onnx_export():  # traceable standard operators
            return acda_onnx_forward(self, x)
        x, unbatched = self.batched_input(x)
        x, padding = self.pad_input(x)
        coeffs = self.atom_generator(x, self.kernel_size, self.stride,
                                     padding, self.dilation)
        args = (x, coeffs, self.fb_bases, self.weight, self.bias, self.stride,
                padding, self.dilation, self.groups)
        if is_compiling():
            out = acda_conv2d_taps(*args, taps=self.nonzero_taps)
        else:
            out = acda_conv2d(*args)
        return out[0] if unbatched else out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, num_atoms={self.num_atoms}, '
                f'scales={self.scales}')
