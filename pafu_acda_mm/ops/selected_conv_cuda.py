"""PAFU's selected convolution on CUDA: Triton kernels.

Switches (module attributes, read at every call):

- :data:`SELECTION_GRADIENT`: ``'cudnn'`` (default) or ``'triton'``, how
  the backward computes the selection gradient;
- products of fp32 inputs follow PyTorch's TF32 setting for cuDNN
  convolutions (``torch.backends.cudnn.allow_tf32``, from torch 2.9
  ``torch.backends.cudnn.conv.fp32_precision``), as PyTorch's convolutions
  do: TF32 where it is set (the default), exact (IEEE) otherwise.

Per-pixel kernel selection is mixture-of-experts routing with pixels as
tokens and kernels as experts, so the kernels follow vLLM's fused MoE
(``moe_align_block_size``) and ScatterMoE:

- :func:`sort_pixels` sorts the output pixels by selected kernel and pads
  each kernel's group to a multiple of the tile's pixel block, so that every
  block of the sorted order holds one kernel's pixels, in three launches on
  the device: the grids are sized by the upper bound of the padded length,
  and blocks past its end return at once, so nothing waits for the host.
- Forward: per sorted block, an implicit GEMM of the gathered windows (read
  on the fly from the channels-last input, zero padding by masks) with the
  block's kernel in one flat loop over taps x channel tiles, written back
  in pixel order.
- ``dx``: one launch over blocks, channel tiles and taps: the block's
  ``dL/dy`` times one tap of its kernel, stored in that tap's plane (within
  one tap no two output pixels read the same input row: no atomics); the
  planes are summed in a fixed order, a deterministic sum.
- ``dW`` and ``db``: one program per chunk of a kernel's sorted pixels and
  weight tile (ScatterMoE's per-expert weight-gradient tiles, cut into
  chunks so that the work is balanced whatever the selection), the chunks'
  partials summed per kernel in chunk order: no atomics, deterministic.
- Selection gradient ``dL/dz_n = <dL/dy, W_n * x + b_n>``: cuDNN's dense
  convolutions over chunks of kernels (ops/selected_conv_torch.py), or per
  block of pixels and kernel ``n`` a response tile formed and reduced
  against ``dL/dy`` at once.

Tiles come from :data:`TILE_CONFIGS`, which
``tools/analysis/compile_kernels.py`` compiles ahead of time. Products
accumulate in fp32 (fp64 for fp64 inputs). Every launch runs under
:func:`device_guard` of its tensors' device. Kernels are launched with
plain ``[grid]`` calls; with ``TRITON_INTERPRET=1`` set before this module
is imported they run on CPU tensors (how the tests check them without a
GPU).
"""
import contextlib
from typing import NamedTuple, Optional, Sequence, Tuple

import torch
import triton
import triton.language as tl

from .memory_format import memory_format_of
from . import selected_conv_torch
from .selected_conv_torch import selection_grad
from .triton_compat import FP64_PRODUCTS, dot


#: How the backward computes the selection gradient (``n`` dense responses,
#: the largest cost of training): ``'cudnn'``, dense convolutions over
#: chunks of kernels with the product with ``dL/dy`` and the channel sum
#: after them (ops/selected_conv_torch.py's :func:`selection_grad`), or
#: ``'triton'``, :func:`_selection_grad_kernel`'s fused implicit GEMM. Set
#: ``selected_conv_cuda.SELECTION_GRADIENT`` to choose; a benchmark decides
#: on a GPU. ``'cudnn'`` by default: being dense it needs no sort, and
#: cuDNN computes dense convolutions near the hardware's peak (tuned tiles,
#: Winograd at 3x3), which outweighs writing and re-reading a chunk's
#: responses once; the Triton kernel re-reads each window once per output
#: channel tile.
SELECTION_GRADIENT = 'cudnn'


class TileConfig(NamedTuple):
    """The tiles and schedule of one launch.

    Attributes:
        block_m (int): Output pixels per program, also the block of the
            pixel sort (each block computes with one kernel).
        block_n (int): Channels of the product's output per program.
        block_k (int): Channels of the product's reduction per step.
        num_warps (int): Warps per program.
        num_stages (int): Loads in flight in the pipelined inner loop.
    """
    block_m: int
    block_n: int
    block_k: int
    num_warps: int
    num_stages: int


#: Every configuration the kernels launch with, by the products' precision
#: (:func:`precision_of`) and channel width (the power of two, at least 16:
#: ``tl.dot``'s smallest, that covers a group's input and output channels,
#: the widest row beyond). Chosen without benchmarking at run time (which
#: would synchronise and break CUDA-graph capture): each row is the widest
#: tile that ``tools/analysis/compile_kernels.py`` reports without spills
#: in half precision on sm_80 and sm_90 with both Tritons (pipelined with
#: triton 3): 8 warps at 64 channels, where 4 warps' registers spill with
#: triton 2.1, and a 32-channel reduction step there (a 64-channel one
#: spills in dx on sm_80 with triton 3); a 128-channel output tile spills
#: with triton 2.1. FMA products
#: (``ieee``, ``fp64``) hold whole tiles in registers, hence their
#: narrower tiles.
TILE_CONFIGS = {
    ('half', 16): TileConfig(64, 16, 16, 4, 3),
    ('half', 32): TileConfig(64, 32, 32, 4, 3),
    ('half', 64): TileConfig(64, 64, 32, 8, 3),
    ('tf32', 16): TileConfig(64, 16, 16, 4, 3),
    ('tf32', 32): TileConfig(64, 32, 32, 4, 3),
    ('tf32', 64): TileConfig(64, 64, 32, 8, 3),
    ('ieee', 16): TileConfig(64, 16, 16, 4, 3),
    ('ieee', 32): TileConfig(64, 32, 16, 4, 3),
    ('fp64', 16): TileConfig(64, 16, 16, 4, 2),
    ('fp64', 32): TileConfig(32, 32, 16, 4, 2),
}


def precision_of(dtype: torch.dtype) -> str:
    """The products' precision for ``dtype``: ``'half'`` (fp16, bf16),
    ``'tf32'`` or ``'ieee'`` (fp32: TF32 where PyTorch's cuDNN convolutions
    use it, exact otherwise) or ``'fp64'``."""
    if dtype in (torch.float16, torch.bfloat16):
        return 'half'
    if dtype == torch.float32:
        return 'tf32' if _convolutions_use_tf32() else 'ieee'
    if dtype == torch.float64:
        return 'fp64'
    raise TypeError(f'PAFU on CUDA computes in float16, bfloat16, float32 '
                    f'and float64, got {dtype}')


def _convolutions_use_tf32() -> bool:
    """Whether PyTorch's cuDNN convolutions compute fp32 in TF32: from
    torch 2.9 the per-operator flag, the first of conv's, cuDNN's and the
    global ``fp32_precision`` that is not ``'none'`` (reading the legacy
    ``allow_tf32`` raises once the two APIs were mixed); before,
    ``torch.backends.cudnn.allow_tf32``."""
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is None:
        return torch.backends.cudnn.allow_tf32
    for precision in (conv.fp32_precision,
                      torch.backends.cudnn.fp32_precision,
                      torch.backends.fp32_precision):
        if precision != 'none':
            return precision == 'tf32'
    return False


def tile_config(precision: str, group_in: int,
                group_out: int) -> TileConfig:
    """The :data:`TILE_CONFIGS` row for products in ``precision`` over a
    group of ``group_in`` input and ``group_out`` output channels."""
    widths = sorted(width for kind, width in TILE_CONFIGS
                    if kind == precision)
    covering = max(group_in, group_out)
    width = next((width for width in widths if width >= covering),
                 widths[-1])
    return TILE_CONFIGS[precision, width]


def device_guard(device: torch.device):
    """The context every launch runs in: ``device`` current, since Triton
    launches on the current CUDA device whatever its tensors' device (a
    no-op for the interpreter's CPU tensors)."""
    if device.type == 'cuda':
        return torch.cuda.device(device)
    return contextlib.nullcontext()


@triton.jit
def _pixel_origins(pixels, num_pixels, out_h, out_w, stride_h, stride_w,
                   pad_h, pad_w):
    """Whether each pixel id is a pixel (not padding), its image, and the
    input row and column of its window's top-left tap."""
    valid = pixels < num_pixels
    pixel = tl.where(valid, pixels, 0)
    image = pixel // (out_h * out_w)
    rest = pixel % (out_h * out_w)
    top = (rest // out_w) * stride_h - pad_h
    left = (rest % out_w) * stride_w - pad_w
    return valid, image, top, left


@triton.jit
def _tap_rows(valid, image, top, left, tap, height, width, dil_h, dil_w,
              KW: tl.constexpr):
    """Whether tap ``tap`` of each window lies inside the input, and its
    pixel's row in the channels-last input ``(B * H * W, C_in)``."""
    row = top + (tap // KW) * dil_h
    col = left + (tap % KW) * dil_w
    inside = valid & (row >= 0) & (row < height) & (col >= 0) & (col < width)
    return inside, ((image * height + row) * width + col).to(tl.int64)


@triton.jit
def _window_products(acc, x_ptr, weight_ptr, weight_rows, out_ok, valid,
                     image, top, left, group, height, width, in_channels,
                     group_in, dil_h, dil_w, KH: tl.constexpr,
                     KW: tl.constexpr, EXACT: tl.constexpr,
                     BLOCK_K: tl.constexpr):
    """``acc`` plus each pixel's window times the kernel rows
    ``weight_rows`` (output channels), summed over taps and the group's
    input channels: ``(BLOCK_M, BLOCK_N)``.

    One flat loop over taps x channel tiles (torch inductor's conv
    template): Triton pipelines only the innermost loop, so a tap loop
    around a channel loop would drain the pipeline at every tap.
    """
    weight_cols = weight_rows.to(tl.int64) * (KH * KW * group_in)
    chan_steps = tl.cdiv(group_in, BLOCK_K)
    for step in range(KH * KW * chan_steps):
        tap = step // chan_steps
        chans = (step % chan_steps) * BLOCK_K + tl.arange(0, BLOCK_K)
        chan_ok = chans < group_in
        inside, rows = _tap_rows(valid, image, top, left, tap, height, width,
                                 dil_h, dil_w, KW)
        windows = tl.load(
            x_ptr + (rows * in_channels + group * group_in)[:, None] +
            chans[None, :], mask=inside[:, None] & chan_ok[None, :],
            other=0.0)
        kernels = tl.load(
            weight_ptr + (weight_cols + tap * group_in)[None, :] +
            chans[:, None], mask=chan_ok[:, None] & out_ok[None, :],
            other=0.0)
        acc = dot(windows, kernels, acc, EXACT)
    return acc


@triton.jit
def _forward_kernel(x_ptr, weight_ptr, bias_ptr, out_ptr, sorted_pixels_ptr,
                    block_kernels_ptr, num_kernels, num_pixels, height, width,
                    in_channels, out_h, out_w, out_channels, group_in,
                    group_out, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                    KH: tl.constexpr, KW: tl.constexpr,
                    HAS_BIAS: tl.constexpr, ACC: tl.constexpr,
                    EXACT: tl.constexpr, BLOCK_M: tl.constexpr,
                    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """One sorted block of pixels times its kernel, for ``BLOCK_N`` output
    channels of one group (grid: blocks, groups x output channel tiles)."""
    block = tl.program_id(0)
    kernel = tl.load(block_kernels_ptr + block)
    if kernel >= num_kernels:  # past the padded end
        return
    out_tiles = tl.cdiv(group_out, BLOCK_N)
    group = tl.program_id(1) // out_tiles
    outs = (tl.program_id(1) % out_tiles) * BLOCK_N + tl.arange(0, BLOCK_N)
    out_ok = outs < group_out
    weight_rows = kernel * out_channels + group * group_out + outs
    pixels = tl.load(sorted_pixels_ptr + block * BLOCK_M +
                     tl.arange(0, BLOCK_M))
    valid, image, top, left = _pixel_origins(pixels, num_pixels, out_h,
                                             out_w, stride_h, stride_w,
                                             pad_h, pad_w)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    acc = _window_products(acc, x_ptr, weight_ptr, weight_rows, out_ok,
                           valid, image, top, left, group, height, width,
                           in_channels, group_in, dil_h, dil_w, KH, KW, EXACT,
                           BLOCK_K)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + weight_rows, mask=out_ok, other=0.0)
        acc += bias.to(ACC)[None, :]
    out_rows = (tl.where(valid, pixels, 0).to(tl.int64) * out_channels +
                group * group_out)
    tl.store(out_ptr + out_rows[:, None] + outs[None, :],
             acc.to(out_ptr.dtype.element_ty),
             mask=valid[:, None] & out_ok[None, :])


@triton.jit
def _input_grad_kernel(grad_out_ptr, weight_ptr, grad_taps_ptr,
                       sorted_pixels_ptr, block_kernels_ptr, num_kernels,
                       num_pixels, height, width, in_channels, out_h, out_w,
                       out_channels, group_in, group_out, stride_h, stride_w,
                       pad_h, pad_w, dil_h, dil_w, KH: tl.constexpr,
                       KW: tl.constexpr, ACC: tl.constexpr,
                       EXACT: tl.constexpr, BLOCK_M: tl.constexpr,
                       BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """One tap's share of ``dx`` from one sorted block, for ``BLOCK_N``
    input channels of one group, stored in that tap's plane of ``grad_taps``
    ``(KH * KW, B * H * W, C_in)`` (grid: blocks, groups x input channel
    tiles, taps). Within one tap no two output pixels read the same input
    row, so the stores never collide: no atomics, and the planes are summed
    afterwards in a fixed order (deterministic)."""
    block = tl.program_id(0)
    kernel = tl.load(block_kernels_ptr + block)
    if kernel >= num_kernels:
        return
    tap = tl.program_id(2)
    in_tiles = tl.cdiv(group_in, BLOCK_N)
    group = tl.program_id(1) // in_tiles
    chans = (tl.program_id(1) % in_tiles) * BLOCK_N + tl.arange(0, BLOCK_N)
    chan_ok = chans < group_in
    pixels = tl.load(sorted_pixels_ptr + block * BLOCK_M +
                     tl.arange(0, BLOCK_M))
    valid, image, top, left = _pixel_origins(pixels, num_pixels, out_h,
                                             out_w, stride_h, stride_w,
                                             pad_h, pad_w)
    inside, rows = _tap_rows(valid, image, top, left, tap, height, width,
                             dil_h, dil_w, KW)
    grad_rows = (tl.where(valid, pixels, 0).to(tl.int64) * out_channels +
                 group * group_out)
    weight_base = (kernel * out_channels + group * group_out).to(tl.int64)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
    for first in range(0, group_out, BLOCK_K):
        outs = first + tl.arange(0, BLOCK_K)
        out_ok = outs < group_out
        grads = tl.load(grad_out_ptr + grad_rows[:, None] + outs[None, :],
                        mask=valid[:, None] & out_ok[None, :], other=0.0)
        kernels = tl.load(
            weight_ptr + (weight_base + outs)[:, None] *
            (KH * KW * group_in) + tap * group_in + chans[None, :],
            mask=out_ok[:, None] & chan_ok[None, :], other=0.0)
        acc = dot(grads, kernels, acc, EXACT)
    images = num_pixels // (out_h * out_w)
    plane = tap.to(tl.int64) * images * height * width * in_channels
    tl.store(grad_taps_ptr + plane +
             (rows * in_channels + group * group_in)[:, None] +
             chans[None, :], acc, mask=inside[:, None] & chan_ok[None, :])


@triton.jit
def _kernel_chunks(kernel_starts_ptr, num_kernels, chunk_pixels,
                   KERNELS: tl.constexpr):
    """Each kernel's sorted pixels ``[starts, ends)`` cut into chunks of
    ``chunk_pixels``: per kernel (``KERNELS`` lanes), its pixels' start
    and end and where its chunks start and end in the list of all
    kernels' chunks."""
    kernels = tl.arange(0, KERNELS)
    kernel_ok = kernels < num_kernels
    starts = tl.load(kernel_starts_ptr + kernels, mask=kernel_ok, other=0)
    ends = tl.load(kernel_starts_ptr + kernels + 1, mask=kernel_ok, other=0)
    chunks = (ends - starts + chunk_pixels - 1) // chunk_pixels
    # An inclusive prefix sum as the sum of a triangle (triton 2.1 cannot
    # scan a load's layout here).
    chunk_ends = tl.sum(tl.where(kernels[None, :] <= kernels[:, None],
                                 chunks[None, :], 0), axis=1)
    return kernels, starts, ends, chunk_ends - chunks, chunk_ends


@triton.jit
def _weight_grad_kernel(x_ptr, grad_out_ptr, partial_weight_ptr,
                        partial_bias_ptr, sorted_pixels_ptr,
                        kernel_starts_ptr, num_kernels, chunk_pixels,
                        num_pixels, height, width, in_channels, out_h, out_w,
                        out_channels, group_in, group_out, stride_h, stride_w,
                        pad_h, pad_w, dil_h, dil_w, KH: tl.constexpr,
                        KW: tl.constexpr, HAS_BIAS: tl.constexpr,
                        ACC: tl.constexpr, EXACT: tl.constexpr,
                        KERNELS: tl.constexpr, BLOCK_M: tl.constexpr,
                        BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """One chunk's share of its kernel's ``dW`` tile (``BLOCK_N`` output
    channels of one group, one tap, ``BLOCK_K`` input channels) and ``db``,
    stored as the chunk's partial ``(C_out, kh * kw * C_in / g)`` and
    ``(C_out,)`` (grid: chunks, groups x output channel tiles, taps x input
    channel tiles). Every chunk has at most ``chunk_pixels`` pixels of one
    kernel, so the work is balanced whatever the selection (ScatterMoE's
    per-expert weight-gradient tiles, cut into chunks)."""
    chunk = tl.program_id(0)
    kernels, starts, ends, first_chunks, chunk_ends = _kernel_chunks(
        kernel_starts_ptr, num_kernels, chunk_pixels, KERNELS)
    kernel = tl.sum((chunk_ends <= chunk).to(tl.int32), axis=0)
    if kernel >= num_kernels:  # past the last chunk
        return
    mine = kernels == kernel
    start = (tl.sum(tl.where(mine, starts, 0), axis=0) +
             (chunk - tl.sum(tl.where(mine, first_chunks, 0), axis=0)) *
             chunk_pixels)
    end = tl.minimum(start + chunk_pixels, tl.sum(tl.where(mine, ends, 0),
                                                  axis=0))
    out_tiles = tl.cdiv(group_out, BLOCK_N)
    group = tl.program_id(1) // out_tiles
    outs = (tl.program_id(1) % out_tiles) * BLOCK_N + tl.arange(0, BLOCK_N)
    out_ok = outs < group_out
    in_tiles = tl.cdiv(group_in, BLOCK_K)
    tap = tl.program_id(2) // in_tiles
    chans = (tl.program_id(2) % in_tiles) * BLOCK_K + tl.arange(0, BLOCK_K)
    chan_ok = chans < group_in
    acc = tl.zeros((BLOCK_N, BLOCK_K), dtype=ACC)
    bias_acc = tl.zeros((BLOCK_N, ), dtype=ACC)
    for first in range(start, end, BLOCK_M):
        pixels = tl.load(sorted_pixels_ptr + first + tl.arange(0, BLOCK_M))
        valid, image, top, left = _pixel_origins(pixels, num_pixels, out_h,
                                                 out_w, stride_h, stride_w,
                                                 pad_h, pad_w)
        inside, rows = _tap_rows(valid, image, top, left, tap, height, width,
                                 dil_h, dil_w, KW)
        grad_rows = (tl.where(valid, pixels, 0).to(tl.int64) * out_channels +
                     group * group_out)
        grads_t = tl.load(grad_out_ptr + grad_rows[None, :] + outs[:, None],
                          mask=out_ok[:, None] & valid[None, :], other=0.0)
        windows = tl.load(
            x_ptr + (rows * in_channels + group * group_in)[:, None] +
            chans[None, :], mask=inside[:, None] & chan_ok[None, :],
            other=0.0)
        acc = dot(grads_t, windows, acc, EXACT)
        if HAS_BIAS:
            bias_acc += tl.sum(grads_t.to(ACC), axis=1)
    rows = chunk * out_channels + group * group_out + outs
    tl.store(partial_weight_ptr + rows.to(tl.int64)[:, None] *
             (KH * KW * group_in) + tap * group_in + chans[None, :], acc,
             mask=out_ok[:, None] & chan_ok[None, :])
    if HAS_BIAS:
        tl.store(partial_bias_ptr + rows, bias_acc,
                 mask=out_ok & (tl.program_id(2) == 0))


@triton.jit
def _sum_weight_grad_kernel(partial_ptr, grad_ptr, kernel_starts_ptr,
                            num_kernels, chunk_pixels, row_length,
                            KERNELS: tl.constexpr, BLOCK: tl.constexpr):
    """``BLOCK`` entries of one kernel's gradient row block (``dW`` or
    ``db``, ``row_length`` entries per kernel): its chunks' partials summed
    in chunk order, deterministic; zeros for a kernel without pixels (grid:
    kernels, entry blocks)."""
    kernel = tl.program_id(0)
    kernels, _, _, first_chunks, chunk_ends = _kernel_chunks(
        kernel_starts_ptr, num_kernels, chunk_pixels, KERNELS)
    mine = kernels == kernel
    entries = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    entry_ok = entries < row_length
    total = tl.zeros((BLOCK, ), dtype=partial_ptr.dtype.element_ty)
    for chunk in range(tl.sum(tl.where(mine, first_chunks, 0), axis=0),
                       tl.sum(tl.where(mine, chunk_ends, 0), axis=0)):
        total += tl.load(partial_ptr + chunk * row_length + entries,
                         mask=entry_ok, other=0.0)
    tl.store(grad_ptr + kernel.to(tl.int64) * row_length + entries,
             total.to(grad_ptr.dtype.element_ty), mask=entry_ok)


@triton.jit
def _selection_grad_kernel(x_ptr, weight_ptr, bias_ptr, grad_out_ptr,
                           grad_selection_ptr, num_kernels, num_pixels,
                           height, width, in_channels, out_h, out_w,
                           out_channels, group_in, group_out, stride_h,
                           stride_w, pad_h, pad_w, dil_h, dil_w, groups,
                           KH: tl.constexpr, KW: tl.constexpr,
                           HAS_BIAS: tl.constexpr, ACC: tl.constexpr,
                           EXACT: tl.constexpr, BLOCK_M: tl.constexpr,
                           BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """``<dL/dy, W_n * x + b_n>`` for ``BLOCK_M`` pixels in pixel order and
    kernel ``n`` (grid: pixel blocks, kernels), one response tile at a
    time."""
    kernel = tl.program_id(1)
    pixels = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    valid, image, top, left = _pixel_origins(pixels, num_pixels, out_h,
                                             out_w, stride_h, stride_w,
                                             pad_h, pad_w)
    grad_rows = tl.where(valid, pixels, 0).to(tl.int64) * out_channels
    total = tl.zeros((BLOCK_M, ), dtype=ACC)
    for group in range(groups):
        for first in range(0, group_out, BLOCK_N):
            outs = first + tl.arange(0, BLOCK_N)
            out_ok = outs < group_out
            weight_rows = kernel * out_channels + group * group_out + outs
            acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC)
            acc = _window_products(acc, x_ptr, weight_ptr, weight_rows,
                                   out_ok, valid, image, top, left, group,
                                   height, width, in_channels, group_in,
                                   dil_h, dil_w, KH, KW, EXACT, BLOCK_K)
            if HAS_BIAS:
                bias = tl.load(bias_ptr + weight_rows, mask=out_ok, other=0.0)
                acc += bias.to(ACC)[None, :]
            grads = tl.load(
                grad_out_ptr + (grad_rows + group * group_out)[:, None] +
                outs[None, :], mask=valid[:, None] & out_ok[None, :],
                other=0.0)
            total += tl.sum(acc * grads.to(ACC), axis=1)
    pixel = tl.where(valid, pixels, 0)
    plane = out_h * out_w
    targets = ((image * num_kernels + kernel).to(tl.int64) * plane +
               pixel % plane)
    tl.store(grad_selection_ptr + targets,
             total.to(grad_selection_ptr.dtype.element_ty), mask=valid)


@triton.jit
def _count_pixels_kernel(index_ptr, counts_ptr, num_pixels,
                         KERNELS: tl.constexpr, SLICE: tl.constexpr):
    """How many pixels of slice ``program_id(0)`` selected each kernel:
    ``counts[slice, kernel]``."""
    kernels = tl.arange(0, KERNELS)
    pixels = tl.program_id(0) * SLICE + tl.arange(0, SLICE)
    keys = tl.load(index_ptr + pixels, mask=pixels < num_pixels,
                   other=KERNELS).to(tl.int32)
    selected = (keys[None, :] == kernels[:, None]).to(tl.int32)
    tl.store(counts_ptr + tl.program_id(0) * KERNELS + kernels,
             tl.sum(selected, axis=1))


@triton.jit
def _place_groups_kernel(counts_ptr, kernel_starts_ptr, block_kernels_ptr,
                         sorted_pixels_ptr, num_slices, num_kernels,
                         num_pixels, num_blocks, BLOCK: tl.constexpr,
                         KERNELS: tl.constexpr, CHUNK: tl.constexpr):
    """One program: where each kernel's padded group starts, each block's
    kernel, and the padding of the sorted order."""
    kernels = tl.arange(0, KERNELS)
    kernel_ok = kernels < num_kernels
    totals = tl.zeros((KERNELS, ), dtype=tl.int32)
    for first in range(0, num_slices, CHUNK):
        slices = first + tl.arange(0, CHUNK)
        totals += tl.sum(
            tl.load(counts_ptr + slices[:, None] * KERNELS + kernels[None, :],
                    mask=(slices < num_slices)[:, None], other=0), axis=0)
    padded = (totals + (BLOCK - 1)) // BLOCK * BLOCK
    # Inclusive prefix sums as sums of a triangle (triton 2.1 cannot scan
    # a reduction's result).
    ends = tl.sum(tl.where(kernels[None, :] <= kernels[:, None],
                           padded[None, :], 0), axis=1)
    starts = ends - padded
    tl.store(kernel_starts_ptr + kernels, starts, mask=kernel_ok)
    tl.store(kernel_starts_ptr + num_kernels, tl.sum(padded, axis=0))
    real_ends = starts + totals
    for first in range(0, num_blocks * BLOCK, CHUNK):
        places = first + tl.arange(0, CHUNK)
        real = tl.sum(((places[:, None] >= starts[None, :]) &
                       (places[:, None] < real_ends[None, :]) &
                       kernel_ok[None, :]).to(tl.int32), axis=1)
        tl.store(sorted_pixels_ptr + places,
                 tl.zeros((CHUNK, ), dtype=tl.int32) + num_pixels,
                 mask=(places < num_blocks * BLOCK) & (real == 0))
    for first in range(0, num_blocks, CHUNK):
        blocks = first + tl.arange(0, CHUNK)
        before = ((ends[None, :] <= blocks[:, None] * BLOCK) &
                  kernel_ok[None, :]).to(tl.int32)
        tl.store(block_kernels_ptr + blocks, tl.sum(before, axis=1),
                 mask=blocks < num_blocks)


@triton.jit
def _scatter_pixels_kernel(index_ptr, counts_ptr, kernel_starts_ptr,
                           sorted_pixels_ptr, num_pixels, num_kernels,
                           KERNELS: tl.constexpr, SLICE: tl.constexpr,
                           CHUNK: tl.constexpr):
    """Slice ``program_id(0)``'s pixels to their places in the sorted
    order: after their kernel's pixels of earlier slices, in pixel order
    within the slice (a stable sort)."""
    kernels = tl.arange(0, KERNELS)
    offsets = tl.load(kernel_starts_ptr + kernels, mask=kernels < num_kernels,
                      other=0)
    this_slice = tl.program_id(0)
    for first in range(0, this_slice, CHUNK):
        slices = first + tl.arange(0, CHUNK)
        offsets += tl.sum(
            tl.load(counts_ptr + slices[:, None] * KERNELS + kernels[None, :],
                    mask=(slices < this_slice)[:, None], other=0), axis=0)
    pixels = this_slice * SLICE + tl.arange(0, SLICE)
    keys = tl.load(index_ptr + pixels, mask=pixels < num_pixels,
                   other=KERNELS).to(tl.int32)
    selected = keys[None, :] == kernels[:, None]
    ranks = tl.cumsum(selected.to(tl.int32), axis=1) - 1
    places = tl.sum(tl.where(selected, ranks + offsets[:, None], 0), axis=0)
    tl.store(sorted_pixels_ptr + places, pixels, mask=pixels < num_pixels)


def sort_pixels(index: torch.Tensor, num_kernels: int,
                block: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixels sorted by selected kernel, each kernel's group padded to a
    multiple of ``block`` (vLLM's ``moe_align_block_size``), on the device
    in three launches: per-slice counts, the groups' places (one program),
    the scatter (each slice after the counts of those before it); keys
    compared as int32.

    Args:
        index (Tensor): int64 ``(P,)`` in ``[0, num_kernels)``.
        num_kernels (int): Kernels ``n``.
        block (int): Pixels per block.

    Returns:
        tuple[Tensor, Tensor, Tensor]: int32 sorted pixel ids
        ``(blocks * block,)``, where ``blocks = ceil((P + n * (block - 1)) /
        block)`` bounds the padded length, with ``P`` in the padding; int32
        ``(blocks,)``, each block's kernel, ``n`` past the padded end; int32
        ``(n + 1,)``, where each kernel's padded group starts (the last: the
        padded length). Kernels no pixel selected have empty groups.
    """
    pixels = index.numel()
    kernels = max(2, triton.next_power_of_2(num_kernels))
    # A slice's one-hot (kernels x slice) stays within registers.
    slice_size = max(16, 4096 // kernels)
    slices = max(1, triton.cdiv(pixels, slice_size))
    blocks = triton.cdiv(pixels + num_kernels * (block - 1), block)
    counts = index.new_empty(slices, kernels, dtype=torch.int32)
    sorted_pixels = index.new_empty(blocks * block, dtype=torch.int32)
    block_kernels = index.new_empty(blocks, dtype=torch.int32)
    kernel_starts = index.new_empty(num_kernels + 1, dtype=torch.int32)
    _count_pixels_kernel[(slices, )](index, counts, pixels, kernels,
                                     slice_size)
    _place_groups_kernel[(1, )](counts, kernel_starts, block_kernels,
                                sorted_pixels, slices, num_kernels, pixels,
                                blocks, block, kernels, 256)
    _scatter_pixels_kernel[(slices, )](index, counts, kernel_starts,
                                       sorted_pixels, pixels, num_kernels,
                                       kernels, slice_size, 64)
    return sorted_pixels, block_kernels, kernel_starts


class _Geometry:
    """The integers every kernel takes, from the operands' shapes (no
    device data): :meth:`args` in the kernels' argument order."""

    def __init__(self, x: torch.Tensor, weight: torch.Tensor,
                 out_size: Sequence[int], num_kernels: int, stride, padding,
                 dilation, groups: int):
        self.batch, self.in_channels, self.height, self.width = x.shape
        self.out_h, self.out_w = out_size
        self.out_channels = weight.shape[0] // num_kernels
        self.kernel_size = tuple(weight.shape[-2:])
        self.groups = groups
        self.group_in = self.in_channels // groups
        self.group_out = self.out_channels // groups
        self.num_pixels = self.batch * self.out_h * self.out_w
        self.conv = (*stride, *padding, *dilation)

    def args(self) -> tuple:
        """From ``num_pixels`` to ``dil_w`` of the kernels' arguments."""
        return (self.num_pixels, self.height, self.width, self.in_channels,
                self.out_h, self.out_w, self.out_channels, self.group_in,
                self.group_out, *self.conv)


def _accumulator(dtype: torch.dtype):
    return tl.float64 if dtype == torch.float64 else tl.float32


def _rows(tensor: torch.Tensor) -> torch.Tensor:
    """A ``(B, C, H, W)`` tensor as channels-last memory, rows ``(B * H * W,
    C)`` (no copy when it is channels-last)."""
    return tensor.contiguous(memory_format=torch.channels_last)


def _kernel_rows(weight: torch.Tensor) -> torch.Tensor:
    """Kernels ``(n * C_out, C_in / g, kh, kw)`` as channels-last memory:
    each output channel's row is tap-major, channel-minor."""
    return weight.contiguous(memory_format=torch.channels_last)


def indexed_conv2d(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor], index: torch.Tensor,
                   num_kernels: int, stride: Sequence[int],
                   padding: Sequence[int], dilation: Sequence[int],
                   groups: int) -> torch.Tensor:
    """The selected convolution's forward (see ops/selected_conv.py for
    the arguments); ``(B, C_out, H_out, W_out)`` in ``x``'s memory format.
    fp64 where triton cannot compile its products: by
    ops/selected_conv_torch.py."""
    if x.dtype == torch.float64 and not FP64_PRODUCTS:
        return selected_conv_torch.indexed_conv2d(x, weight, bias, index,
                                                  num_kernels, stride,
                                                  padding, dilation, groups)
    geometry = _Geometry(x, weight, index.shape[-2:], num_kernels, stride,
                         padding, dilation, groups)
    precision = precision_of(x.dtype)
    config = tile_config(precision, geometry.group_in, geometry.group_out)
    out = x.new_empty(geometry.batch, geometry.out_h, geometry.out_w,
                      geometry.out_channels).permute(0, 3, 1, 2)
    if geometry.num_pixels:
        with device_guard(x.device):
            sorted_pixels, block_kernels, _ = sort_pixels(
                index.flatten(), num_kernels, config.block_m)
            grid = (block_kernels.numel(),
                    groups * triton.cdiv(geometry.group_out, config.block_n))
            _forward_kernel[grid](
                _rows(x), _kernel_rows(weight), x if bias is None else bias,
                out, sorted_pixels, block_kernels, num_kernels,
                *geometry.args(), *geometry.kernel_size, bias is not None,
                _accumulator(x.dtype), precision != 'tf32', config.block_m,
                config.block_n, config.block_k, num_warps=config.num_warps,
                num_stages=config.num_stages)
    return out.contiguous(memory_format=memory_format_of(x))


def selected_conv2d_backward(
    grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor,
    bias: Optional[torch.Tensor], index: torch.Tensor, num_kernels: int,
    stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
    groups: int, output_mask: Sequence[bool]
) -> Tuple[Optional[torch.Tensor], ...]:
    """``dx``, ``dW``, ``db`` and the selection gradient, each where
    ``output_mask`` asks for it (see ops/selected_conv.py). fp64 where
    triton cannot compile its products: by ops/selected_conv_torch.py."""
    if x.dtype == torch.float64 and not FP64_PRODUCTS:
        return selected_conv_torch.selected_conv2d_backward(
            grad_out, x, weight, bias, index, num_kernels, stride, padding,
            dilation, groups, output_mask)
    with device_guard(x.device):
        return _backward(grad_out, x, weight, bias, index, num_kernels,
                         stride, padding, dilation, groups, output_mask)


def _backward(grad_out, x, weight, bias, index, num_kernels, stride, padding,
              dilation, groups, output_mask):
    """:func:`selected_conv2d_backward` on the current device."""
    need_x, need_weight, need_bias, need_selection = output_mask
    need_bias = need_bias and bias is not None
    geometry = _Geometry(x, weight, index.shape[-2:], num_kernels, stride,
                         padding, dilation, groups)
    precision = precision_of(x.dtype)
    exact = precision != 'tf32'
    config = tile_config(precision, geometry.group_in, geometry.group_out)
    launch = dict(num_warps=config.num_warps, num_stages=config.num_stages)
    accumulator = _accumulator(x.dtype)
    x_rows, kernel_rows, grad_rows = _rows(x), _kernel_rows(weight), _rows(
        grad_out)
    grad_x = grad_weight = grad_bias = grad_selection = None
    if need_x or need_weight or need_bias:
        sorted_pixels, block_kernels, kernel_starts = sort_pixels(
            index.flatten(), num_kernels, config.block_m)
    if need_x:
        grad_x = _input_grad(grad_rows, kernel_rows, sorted_pixels,
                             block_kernels, x, geometry, num_kernels, exact,
                             config)
    if need_weight or need_bias:
        grad_weight, grad_bias = _weight_grad(
            x_rows, grad_rows, kernel_rows, bias if need_bias else None,
            sorted_pixels, kernel_starts, geometry, num_kernels, exact,
            config)
        grad_weight = grad_weight.contiguous(
            memory_format=memory_format_of(weight)) if need_weight else None
    if need_selection:
        grad_selection = _selection_grad(
            (grad_out, x, weight, bias), (grad_rows, x_rows, kernel_rows),
            geometry, num_kernels, (stride, padding, dilation), exact, config)
    return grad_x, grad_weight, grad_bias, grad_selection


def _input_grad(grad_rows, kernel_rows, sorted_pixels, block_kernels, x,
                geometry, num_kernels, exact, config):
    """``dx`` ``(B, C_in, H, W)`` in ``x``'s dtype and memory format: every
    tap's share in one launch, in planes of the accumulator's precision
    (``kh * kw`` times ``x``'s size), then their sum."""
    kh, kw = geometry.kernel_size
    grad_taps = x.new_zeros(
        kh * kw, geometry.batch, geometry.height, geometry.width,
        geometry.in_channels,
        dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    if geometry.num_pixels:
        grid = (block_kernels.numel(), geometry.groups *
                triton.cdiv(geometry.group_in, config.block_n), kh * kw)
        _input_grad_kernel[grid](
            grad_rows, kernel_rows, grad_taps, sorted_pixels, block_kernels,
            num_kernels, *geometry.args(), kh, kw, _accumulator(x.dtype),
            exact, config.block_m, config.block_n, config.block_k,
            num_warps=config.num_warps, num_stages=config.num_stages)
    grad_x = grad_taps.sum(0) if kh * kw > 1 else grad_taps[0]
    return grad_x.to(x.dtype).permute(0, 3, 1, 2).contiguous(
        memory_format=memory_format_of(x))


def _weight_grad(x_rows, grad_rows, kernel_rows, bias, sorted_pixels,
                 kernel_starts, geometry, num_kernels, exact, config):
    """``dW`` in ``kernel_rows``' dtype and memory and, with ``bias``,
    ``db``: per chunk of a kernel's sorted pixels a partial in the
    accumulator's precision, then per kernel their sum.

    Chunks of ``block_m * ceil(blocks / n)`` pixels: at most ``2n`` of them
    (twice the weight gradient's memory in partials), up to ``n`` per
    kernel where one kernel holds every pixel.
    """
    kh, kw = geometry.kernel_size
    blocks = triton.cdiv(sorted_pixels.numel(), config.block_m)
    chunk_pixels = config.block_m * triton.cdiv(blocks, num_kernels)
    chunks = triton.cdiv(sorted_pixels.numel(), chunk_pixels) + num_kernels
    row_length = kh * kw * geometry.group_in
    accumulator = torch.float64 if x_rows.dtype == torch.float64 else \
        torch.float32
    partial_weight = x_rows.new_empty(chunks, geometry.out_channels,
                                      row_length, dtype=accumulator)
    partial_bias = (x_rows.new_empty(chunks, geometry.out_channels,
                                     dtype=accumulator)
                    if bias is not None else partial_weight)
    kernels = max(2, triton.next_power_of_2(num_kernels))
    grid = (chunks, geometry.groups *
            triton.cdiv(geometry.group_out, config.block_n),
            kh * kw * triton.cdiv(geometry.group_in, config.block_k))
    _weight_grad_kernel[grid](
        x_rows, grad_rows, partial_weight, partial_bias, sorted_pixels,
        kernel_starts, num_kernels, chunk_pixels, *geometry.args(), kh, kw,
        bias is not None, _accumulator(x_rows.dtype), exact, kernels,
        config.block_m, config.block_n, config.block_k,
        num_warps=config.num_warps, num_stages=config.num_stages)
    grad_weight = torch.empty_like(kernel_rows)
    sums = [(partial_weight, grad_weight)]
    grad_bias = None
    if bias is not None:
        grad_bias = torch.empty_like(bias)
        sums.append((partial_bias, grad_bias))
    for partial, grad in sums:
        length = partial[0].numel()
        _sum_weight_grad_kernel[(num_kernels, triton.cdiv(length, 1024))](
            partial, grad, kernel_starts, num_kernels, chunk_pixels, length,
            kernels, 1024)
    return grad_weight, grad_bias


def _selection_grad(operands, rows, geometry, num_kernels, conv_args, exact,
                    config):
    """``dL/dz`` ``(B, n, H_out, W_out)`` by the formulation
    :data:`SELECTION_GRADIENT` names, from ``operands`` ``(dL/dy, x, W,
    b)`` and the ``rows`` of the first three (channels-last memory)."""
    grad_out, x, weight, bias = operands
    grad_rows, x_rows, kernel_rows = rows
    if SELECTION_GRADIENT == 'cudnn':
        return selection_grad(grad_out, x, weight, bias, num_kernels,
                              *conv_args, geometry.groups)
    if SELECTION_GRADIENT != 'triton':
        raise ValueError(f"SELECTION_GRADIENT must be 'cudnn' or 'triton', "
                         f'got {SELECTION_GRADIENT!r}')
    grad_selection = x.new_empty(geometry.batch, num_kernels, geometry.out_h,
                                 geometry.out_w)
    if geometry.num_pixels:
        grid = (triton.cdiv(geometry.num_pixels, config.block_m), num_kernels)
        _selection_grad_kernel[grid](
            x_rows, kernel_rows, x if bias is None else bias, grad_rows,
            grad_selection, num_kernels, *geometry.args(), geometry.groups,
            *geometry.kernel_size, bias is not None,
            _accumulator(x.dtype), exact, config.block_m, config.block_n,
            config.block_k, num_warps=config.num_warps,
            num_stages=config.num_stages)
    return grad_selection
