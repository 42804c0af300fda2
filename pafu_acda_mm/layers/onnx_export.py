"""Eval-mode PAFU and ACDA as standard ONNX operators.

While ``torch.onnx.export`` traces a model, :class:`~.PAFU` and
:class:`~.ACDA` compute through these functions instead of their CPU and GPU
paths, which a trace cannot turn into ONNX: those run compiled kernels that
a trace does not see, copy per image in Python loops and size their work on
the host from the data. Both formulations are exact (the eval-mode layer's
math, in another summation order) and keep batch, height and width dynamic;
they use opset 11 operators (NonZero, ScatterND and older), so they export
at mmdeploy's default opset 11 and every later one.

- PAFU: the selector's logits, their ArgMax, then per kernel its pixels
  (NonZero), their windows gathered from the padded input (Gather) times
  that kernel (MatMul), and the products put back in pixel order (one
  ScatterND). One conv's multiply-adds plus the gathered windows (each
  pixel's ``kh * kw * C_in`` inputs, one kernel's pixels at a time), where
  "every kernel's response, then pick" would cost ``num_kernels`` convs.
- ACDA: the basis formulation, one depthwise conv per basis scale (channel
  multiplier ``m'``), a per-pixel MatMul with the coefficients and the 1x1
  coefficient conv: a few nodes per basis scale, where the tap formulation
  takes a Slice, Mul and Add per non-zero tap.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .acda_conv import coefficient_kernel, scale_input
from .gumbel import gumbel_argmax


def check_exportable(layer: nn.Module) -> None:
    """Refuse a training-mode export with a clear error.

    Raises:
        RuntimeError: If ``layer`` is in training mode: PAFU's training
            forward samples Gumbel noise and both layers' predictors
            normalise with batch statistics, which an inference graph must
            not.
    """
    if layer.training:
        raise RuntimeError(
            f'{type(layer).__name__} exports to ONNX in eval mode only, but '
            'it is in training mode: call model.eval() first and export with '
            'torch.onnx.export\'s default training=TrainingMode.EVAL')


def _predictor_input(x: torch.Tensor) -> torch.Tensor:
    """``x`` as the pixel predictors take it without a copy: channels-last
    (their copy loops over images in Python, fixing the traced batch size).
    Memory formats do not exist in ONNX: this exports as nothing."""
    return x.contiguous(memory_format=torch.channels_last)


def pafu_onnx_forward(pafu: nn.Module,
                      x: torch.Tensor,
                      return_selection: bool = False):
    """:meth:`PAFU.forward` in eval mode, as traceable standard operators.

    Args:
        pafu (PAFU): The layer, in eval mode.
        x (Tensor): ``(B, in_channels, H, W)`` or ``(in_channels, H, W)``.
        return_selection (bool): Also return the selected kernel per output
            pixel. Default: False.

    Returns:
        Tensor | tuple[Tensor, Tensor]: As :meth:`PAFU.forward`.
    """
    check_exportable(pafu)
    x, unbatched = pafu.batched_input(x)
    x, padding = pafu.pad_input(x)
    logits = pafu.selector(_predictor_input(x), pafu.kernel_size, pafu.stride,
                           padding, pafu.dilation)
    index = gumbel_argmax(logits, dim=1, sample=False)
    padded = F.pad(x, [padding[1], padding[1], padding[0], padding[0]
                       ]) if any(padding) else x
    out = _selected_products(pafu, padded, index)
    if unbatched:
        out, index = out[0], index[0]
    return (out, index) if return_selection else out


def _kernel_taps(pafu: nn.Module) -> List[List[int]]:
    """Per kernel, the flat tap indices ``u * kw + v`` of its support: a
    smaller kernel of a mixed group multiplies only its own window."""
    size_h, size_w = pafu.kernel_size
    taps = []
    for kernel in range(pafu.num_kernels):
        border = pafu.kernel_border(kernel)
        taps.append([
            u * size_w + v for u in range(border, size_h - border)
            for v in range(border, size_w - border)
        ])
    return taps


def _selected_products(pafu: nn.Module, padded: torch.Tensor,
                       index: torch.Tensor) -> torch.Tensor:
    """``y[p] = W[index[p]] . window(p) + b[index[p]]``, unpadded.

    Args:
        pafu (PAFU): The layer (geometry, kernels, bias).
        padded (Tensor): Zero-padded input ``(B, C_in, H_pad, W_pad)``.
        index (Tensor): int64 ``(B, H_out, W_out)``.

    Returns:
        Tensor: ``(B, C_out, H_out, W_out)``.
    """
    channels, out_channels = pafu.in_channels, pafu.out_channels
    batch, pad_h, pad_w = padded.shape[0], padded.shape[2], padded.shape[3]
    out_h, out_w = index.shape[1], index.shape[2]
    (stride_h, stride_w), (dilation_h, dilation_w) = pafu.stride, pafu.dilation
    size_h, size_w = pafu.kernel_size
    # Row r of `rows` is one input pixel; the window of output pixel p is
    # rows base[p] + taps.
    rows = padded.permute(0, 2, 3, 1).reshape(-1, channels)
    base = (torch.arange(batch).view(-1, 1, 1) * (pad_h * pad_w) +
            torch.arange(out_h).view(1, -1, 1) * (stride_h * pad_w) +
            torch.arange(out_w).view(1, 1, -1) * stride_w).reshape(-1)
    all_taps = (torch.arange(size_h).view(-1, 1) * (dilation_h * pad_w) +
                torch.arange(size_w).view(1, -1) * dilation_w).reshape(-1)
    # Kernels as tap-major, channel-minor matrices (C_out, kh * kw, C_in/g).
    kernels = pafu.kernels.permute(0, 2, 3, 1).reshape(
        pafu.num_kernels, out_channels, size_h * size_w,
        channels // pafu.groups)
    biases = (None if pafu.bias is None else pafu.bias.view(
        pafu.num_kernels, out_channels))
    flat_index = index.reshape(-1)
    pixels, products = [], []
    for kernel, taps in enumerate(_kernel_taps(pafu)):
        kernel_pixels = (flat_index == kernel).nonzero().reshape(-1)
        kernel_taps = all_taps if len(taps) == size_h * size_w else all_taps[
            taps]
        windows = rows[(base[kernel_pixels].view(-1, 1) +
                        kernel_taps).reshape(-1)]  # (P * T, C_in)
        product = _grouped_matmul(pafu, windows, kernels[kernel][:, taps],
                                  len(taps))
        if biases is not None:
            product = product + biases[kernel]
        pixels.append(kernel_pixels)
        products.append(product)
    products = torch.cat(products)
    out = torch.zeros_like(products).index_put((torch.cat(pixels), ),
                                               products)
    return out.view(batch, out_h, out_w, out_channels).permute(0, 3, 1, 2)


def _grouped_matmul(pafu: nn.Module, windows: torch.Tensor,
                    kernel: torch.Tensor, num_taps: int) -> torch.Tensor:
    """Windows ``(P * T, C_in)`` (``T = num_taps`` rows each) times a
    kernel ``(C_out, T, C_in / g)`` of ``pafu`` per group: ``(P, C_out)``.

    Shapes come from ``pafu`` as Python ints: in a trace, a tensor's shape
    is a traced value, which would export as shape arithmetic.
    """
    groups, out_channels = pafu.groups, pafu.out_channels
    row = num_taps * pafu.in_channels // groups
    if groups == 1:
        return windows.view(-1, row) @ kernel.reshape(out_channels, row).t()
    per_group = windows.view(-1, num_taps, groups,
                             pafu.in_channels // groups).permute(
                                 2, 0, 1, 3).reshape(groups, -1, row)
    weights = kernel.reshape(groups, out_channels // groups, row).transpose(
        1, 2)
    return torch.matmul(per_group, weights).permute(1, 0, 2).reshape(
        -1, out_channels)


def acda_onnx_forward(acda: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:meth:`ACDA.forward` in eval mode, as traceable standard operators.

    Args:
        acda (ACDA): The layer, in eval mode.
        x (Tensor): ``(B, in_channels, H, W)`` or ``(in_channels, H, W)``.

    Returns:
        Tensor: As :meth:`ACDA.forward`.
    """
    check_exportable(acda)
    x, unbatched = acda.batched_input(x)
    x, padding = acda.pad_input(x)
    coeffs = acda.atom_generator(_predictor_input(x), acda.kernel_size,
                                 acda.stride, padding, acda.dilation)
    responses = _basis_responses(acda, x, padding)  # (B, C_in, K, Ho, Wo)
    alpha = _unflatten(coeffs, 1, (acda.num_atoms, -1))
    # Per pixel (m, K) @ (K, C_in): the atoms' responses (B, Ho, Wo, m, C).
    atom_out = torch.matmul(alpha.permute(0, 3, 4, 1, 2),
                            responses.permute(0, 3, 4, 2, 1))
    out = _coefficient_conv_image(acda, atom_out)
    return out[0] if unbatched else out


def _unflatten(x: torch.Tensor, dim: int, sizes: Tuple[int,
                                                     ...]) -> torch.Tensor:
    """``x.unflatten(dim, sizes)`` as one Reshape, which opset 11 has
    (``aten::unflatten`` exports from opset 13 on); the other dimensions
    keep their traced, dynamic sizes."""
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def _basis_responses(acda: nn.Module, x: torch.Tensor,
                     padding: Tuple[int, int]) -> torch.Tensor:
    """Every input channel convolved with every basis: one depthwise conv
    per scale, ``(B, C_in, S * m', H_out, W_out)``, bases in
    :attr:`ACDA.fb_bases` order."""
    channels, kernel_size = acda.in_channels, acda.kernel_size[0]
    # Python ints (a traced tensor's shape would be a traced value): every
    # scale has as many bases.
    count = (acda.atom_generator.predict.out_channels // acda.num_atoms //
             len(acda.scales))
    responses = []
    for size, bases in zip(acda.scales, acda.fb_bases):
        x_in, scale_padding = scale_input(x, size, kernel_size, padding,
                                          acda.dilation)
        # Output channel c * m' + j: input channel c times basis j.
        weight = bases.to(x.dtype).repeat(channels, 1, 1).unsqueeze(1)
        response = F.conv2d(x_in, weight, None, acda.stride, scale_padding,
                            acda.dilation, channels)
        responses.append(_unflatten(response, 1, (channels, count)))
    return torch.cat(responses, dim=2)


def _coefficient_conv_image(acda: nn.Module,
                            atom_out: torch.Tensor) -> torch.Tensor:
    """The 1x1 coefficient conv ``A`` (:func:`~.acda_conv.coefficient_kernel`)
    on atom responses ``(B, H_out, W_out, m, C_in)`` arranged as one NCHW
    image (a Reshape and a Transpose): ``(B, C_out, H_out, W_out)``."""
    channels, groups = acda.in_channels, acda.groups
    # A's input channels are group-major, then atom, then channel.
    image = _unflatten(atom_out, 4, (groups, channels // groups)).permute(
        0, 4, 3, 5, 1, 2).flatten(1, 3)
    return F.conv2d(image, coefficient_kernel(acda.weight, acda.num_atoms),
                    acda.bias, groups=groups)

