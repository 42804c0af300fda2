"""ACDA's convolution ``K_ij = A . (alpha_ij psi)`` as functions: the basis
formulation (:func:`acda_conv2d`), the tap formulation that compiled graphs
fuse (:func:`acda_conv2d_taps`), and the pieces that ACDA's ONNX formulation
(onnx_export.py) shares with them: each basis scale's padding
(:func:`scale_input`) and the coefficient conv's kernel
(:func:`coefficient_kernel`)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..ops.memory_format import to_channels_last
from ..ops.row_images import as_image
from ..torch_compat import is_compiling


def scale_input(x: torch.Tensor, size: int, kernel_size: int,
                padding: Tuple[int, int], dilation: Tuple[int, int]):
    """``x`` and the padding with which a basis scale of side ``size``,
    centred in the ``kernel_size`` window, convolves it.

    A smaller scale pads ``dilation * (kernel_size - size) / 2`` less; where
    that is negative (less padding than the scale's border), the rest is a
    crop applied now, since ``F.conv2d`` takes only non-negative padding.

    Args:
        x (Tensor): ``(B, C, H, W)``.
        size (int): The scale's odd side ``l_s``.
        kernel_size (int): The layer's odd side ``k >= l_s``.
        padding, dilation (tuple[int, int]): The layer's, for size ``k``.

    Returns:
        tuple[Tensor, tuple[int, int]]: ``x``, cropped where needed, and the
        non-negative padding for ``F.conv2d``.
    """
    padding = tuple(p - d * ((kernel_size - size) // 2)
                    for p, d in zip(padding, dilation))
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
        x_in, scale_padding = scale_input(x_cl, size, kernel_size, padding,
                                          dilation)
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
    x, padding = scale_input(x, kernel_size, kernel_size, padding, dilation)
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


def coefficient_kernel(weight: torch.Tensor, num_atoms: int) -> torch.Tensor:
    """The coefficient conv ``A`` as a 1x1 kernel whose input channels are
    group-major, then atom, then channel (how both ACDA's rows and its ONNX
    formulation arrange the atom responses).

    Args:
        weight (Tensor): ``A``, ``(C_out, C_in // groups * m, 1, 1)`` with
            input channel ``c * m + a`` atom ``a`` of channel ``c``.
        num_atoms (int): ``m``.

    Returns:
        Tensor: ``(C_out, m * C_in // groups, 1, 1)``, input channel
        ``a * C_in // groups + c``.
    """
    out_channels = weight.shape[0]
    return weight.view(out_channels, -1, num_atoms).transpose(1, 2).reshape(
        out_channels, -1, 1, 1)


def _coefficient_conv_as_matmul() -> bool:
    """Whether the coefficient conv runs as a grouped matmul (an einsum):
    in compiled graphs, where inductor (torch 2.13) fails to lower the
    grouped conv under dynamic shapes ("cannot determine truth value of
    Relational"), and in jit traces, where the FLOP counter
    (engine/flops.py) tells the einsum from the depthwise basis convs that
    a 1x1 conv would look like at ``kernel_size=1``. Both are exact."""
    return is_compiling() or torch.jit.is_tracing()


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
    kernel = coefficient_kernel(weight, num_atoms)
    if _coefficient_conv_as_matmul():
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
