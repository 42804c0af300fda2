"""PAFU's selected convolution in plain torch: dense convolutions a few
kernels at a time.

``y[p] = W[z_p] * x[window(p)] + b[z_p]`` for a one-hot selection ``z``.
CUDA's path where Triton cannot run (see ops/selected_conv.py's
:func:`~pafu_acda_mm.ops.selected_conv.cuda_backend`), correct on any
device. Every step is a dense convolution of :data:`KERNELS_PER_CHUNK`
kernels at once (cuDNN on a GPU) followed by elementwise selects, products
and sums, so no step reads a device value on the host and memory stays
within a few outputs' size:

- forward: each kernel's response, kept at the pixels that selected it;
- ``dx``, ``dW``, ``db``: per chunk, the backward of its convolution with
  ``dL/dy`` zeroed at the pixels that selected another kernel: each kernel
  gets the gradient of its own pixels only;
- the straight-through gradient of the selection,
  ``dL/dz_n[p] = <dL/dy[p], W_n * x[window(p)] + b_n>``
  (:func:`selection_grad`, which the CPU path shares).

That is ``n`` convolutions where the selected kernels alone would cost one,
traded for dense library convolutions and no sort. Convolutions follow
torch's settings, as ``nn.Conv2d`` does (on CUDA, TF32 for fp32 where
``torch.backends.cudnn.allow_tf32``); sums over kernel chunks accumulate in
fp32 for fp16 and bf16 inputs. The functions take ops/selected_conv.py's
arguments.
"""
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .memory_format import memory_format_of

# Kernels convolved at once: each chunk's responses (or masked gradients)
# take this many outputs' memory.
KERNELS_PER_CHUNK = 2


def conv_layout(tensor: torch.Tensor, num_kernels: int,
                groups: int) -> torch.Tensor:
    """Reorder kernel-major rows ``(n, C_out)`` to ``(groups, n, C_out / g)``
    so that one grouped conv computes every kernel on its own input group."""
    return _swap_blocks(tensor, num_kernels, groups)


def kernel_layout(tensor: torch.Tensor, num_kernels: int,
                  groups: int) -> torch.Tensor:
    """The inverse of :func:`conv_layout`: rows ``(groups, n, C_out / g)``
    back to ``(n, C_out)``."""
    return _swap_blocks(tensor, groups, num_kernels)


def _swap_blocks(tensor: torch.Tensor, outer: int,
                 inner: int) -> torch.Tensor:
    """Rows ``(outer, inner, r)`` as ``(inner, outer, r)``, flattened."""
    blocks = tensor.reshape(outer, inner, -1, *tensor.shape[1:])
    return blocks.transpose(0, 1).reshape(tensor.shape)


def kernel_chunks(num_kernels: int,
                  kernels_per_chunk: int) -> List[Tuple[int, int]]:
    """``(first kernel, count)`` of each chunk of at most
    ``kernels_per_chunk`` kernels, in order."""
    return [(first, min(kernels_per_chunk, num_kernels - first))
            for first in range(0, num_kernels, kernels_per_chunk)]


def _chunk_kernels(
    weight: torch.Tensor, bias: Optional[torch.Tensor], num_kernels: int,
    first: int, count: int, groups: int, layout: torch.memory_format
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Kernels ``first`` to ``first + count - 1`` as one grouped conv's
    weight ``(count * C_out, C_in / g, kh, kw)`` in ``layout`` and bias,
    output channels in :func:`conv_layout` order."""
    out_channels = weight.shape[0] // num_kernels
    rows = slice(first * out_channels, (first + count) * out_channels)
    chunk_weight = conv_layout(weight[rows], count,
                               groups).contiguous(memory_format=layout)
    chunk_bias = None if bias is None else conv_layout(
        bias[rows], count, groups)
    return chunk_weight, chunk_bias


def _responses(x: torch.Tensor, weight: torch.Tensor,
               bias: Optional[torch.Tensor], num_kernels: int, stride,
               padding, dilation, groups: int,
               kernels_per_chunk: int) -> Iterator[Tuple[int, torch.Tensor]]:
    """Per chunk of kernels, ``(first kernel, W_n * x + b_n)`` as
    ``(B, groups, count, C_out / g, H_out, W_out)``: one convolution, its
    weight in ``x``'s memory format (the backends run channels-last if
    either operand is)."""
    layout = memory_format_of(x)
    for first, count in kernel_chunks(num_kernels, kernels_per_chunk):
        chunk_weight, chunk_bias = _chunk_kernels(weight, bias, num_kernels,
                                                  first, count, groups,
                                                  layout)
        responses = F.conv2d(x, chunk_weight, chunk_bias, stride, padding,
                             dilation, groups)
        yield first, responses.unflatten(1, (groups, count, -1))


def selection_grad(grad_out: torch.Tensor,
                   x: torch.Tensor,
                   weight: torch.Tensor,
                   bias: Optional[torch.Tensor],
                   num_kernels: int,
                   stride,
                   padding,
                   dilation,
                   groups: int,
                   *,
                   kernels_per_chunk: int = KERNELS_PER_CHUNK) -> torch.Tensor:
    """The straight-through selection gradient
    ``dL/dz_n[p] = <dL/dy[p], W_n * x[window(p)] + b_n>``.

    Per chunk of ``kernels_per_chunk`` kernels, one dense convolution gives
    their responses, which are multiplied in place by ``dL/dy`` and summed
    over channels: the ``n`` responses never exist at once.

    Dtypes: the responses come from ``F.conv2d`` in ``x``'s dtype (its
    accumulation: cuDNN sums fp16/bf16 in fp32, and fp32 in TF32 where
    ``torch.backends.cudnn.allow_tf32``), are rounded to that dtype, multiplied
    by ``dL/dy`` in it, and summed by ``torch.sum`` (fp32 accumulation for
    fp16/bf16); the result is in ``x``'s dtype.

    Args:
        grad_out (Tensor): ``dL/dy``, ``(B, C_out, H_out, W_out)``.
        x (Tensor): Input ``(B, C_in, H, W)``.
        weight (Tensor): Kernels ``(n * C_out, C_in / groups, kh, kw)``.
        bias (Tensor, optional): ``(n * C_out,)``.
        num_kernels (int): ``n``.
        stride, padding, dilation (Sequence[int]): Pairs, as ``nn.Conv2d``.
        groups (int): As ``nn.Conv2d``.
        kernels_per_chunk (int): Kernels convolved at once; memory of that
            many outputs. Default: :data:`KERNELS_PER_CHUNK`.

    Returns:
        Tensor: ``(B, n, H_out, W_out)``.
    """
    # Laid out like the responses, for a contiguous product.
    grad = grad_out.contiguous(memory_format=memory_format_of(x)).unflatten(
        1, (groups, 1, -1))
    # In place on the transient: no second copy of the responses.
    return torch.cat([
        responses.mul_(grad).sum(dim=(1, 3))
        for _, responses in _responses(x, weight, bias, num_kernels, stride,
                                       padding, dilation, groups,
                                       kernels_per_chunk)
    ],
                     dim=1)


def indexed_conv2d(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor], index: torch.Tensor,
                   num_kernels: int, stride, padding, dilation,
                   groups: int) -> torch.Tensor:
    """The selected convolution's forward, ``(B, C_out, H_out, W_out)``:
    every kernel's response, kept where ``index`` selects it."""
    # (B, 1, 1, H_out, W_out) against responses (B, g, C_out / g, ...).
    index = index[:, None, None]
    out = None
    for first, responses in _responses(x, weight, bias, num_kernels, stride,
                                       padding, dilation, groups,
                                       KERNELS_PER_CHUNK):
        for offset in range(responses.shape[2]):
            response = responses[:, :, offset]
            out = response if out is None else torch.where(
                index == first + offset, response, out)
    return out.flatten(1, 2)


def selected_conv2d_backward(grad_out: torch.Tensor, x: torch.Tensor,
                             weight: torch.Tensor,
                             bias: Optional[torch.Tensor],
                             index: torch.Tensor, num_kernels: int, stride,
                             padding, dilation, groups: int, output_mask):
    """``dx``, ``dW``, ``db`` and the selection gradient, each where
    ``output_mask`` asks for it (see ops/selected_conv.py)."""
    need_x, need_weight, need_bias, need_selection = output_mask
    need_bias = need_bias and bias is not None
    grad_selection = selection_grad(
        grad_out, x, weight, bias, num_kernels, stride, padding, dilation,
        groups) if need_selection else None
    grad_x = grad_weight = grad_bias = None
    if need_x or need_weight or need_bias:
        grad_x, grad_weight, grad_bias = _selected_grads(
            grad_out, x, weight, bias, index, num_kernels, stride, padding,
            dilation, groups, (need_x, need_weight, need_bias))
    return grad_x, grad_weight, grad_bias, grad_selection


def _selected_grads(grad_out, x, weight, bias, index, num_kernels, stride,
                    padding, dilation, groups, output_mask):
    """``dx``, ``dW``, ``db`` (where ``output_mask`` asks) through the
    selected kernels only: per chunk of kernels, the backward of their
    convolution with ``dL/dy`` kept at each kernel's own pixels."""
    need_x, need_weight, need_bias = output_mask
    layout = memory_format_of(x)
    out_channels = weight.shape[0] // num_kernels
    # (B, g, 1, C_out / g, H_out, W_out) against the chunk's kernels.
    grad = grad_out.contiguous(memory_format=layout).unflatten(
        1, (groups, 1, -1))
    index = index[:, None, None, None]
    # dx sums over chunks: in fp32 for fp16 and bf16, as the products do.
    grad_x = torch.zeros_like(
        x, dtype=torch.promote_types(x.dtype, torch.float32),
        memory_format=layout) if need_x else None
    grad_weight = torch.empty_like(weight) if need_weight else None
    grad_bias = torch.empty_like(bias) if need_bias else None
    for first, count in kernel_chunks(num_kernels, KERNELS_PER_CHUNK):
        chunk_weight, _ = _chunk_kernels(weight, None, num_kernels, first,
                                         count, groups, layout)
        kernels = torch.arange(first, first + count,
                               device=index.device).view(-1, 1, 1, 1)
        masked = torch.where(index == kernels, grad, 0).flatten(
            1, 3).contiguous(memory_format=layout)
        chunk_dx, chunk_dw, chunk_db = torch.ops.aten.convolution_backward(
            masked, x, chunk_weight,
            [masked.shape[1]] if need_bias else None, stride, padding,
            dilation, False, (0, 0), groups, (need_x, need_weight, need_bias))
        rows = slice(first * out_channels, (first + count) * out_channels)
        if need_x:
            grad_x += chunk_dx
        if need_weight:
            grad_weight[rows] = kernel_layout(chunk_dw, count, groups)
        if need_bias:
            grad_bias[rows] = kernel_layout(chunk_db, count, groups)
    if grad_x is not None:
        grad_x = grad_x.to(x.dtype)
    return grad_x, grad_weight, grad_bias
