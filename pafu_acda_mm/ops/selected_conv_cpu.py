"""PAFU's selected convolution on the CPU: BLAS, oneDNN and a C++ op.

``y[p] = W[z_p] * x[window(p)] + b[z_p]`` for a one-hot selection ``z``. The
forward and the ``dx``/``dW`` gradients touch only the selected kernel: output
pixels are sorted by kernel and each kernel is a matrix product with the
gathered windows of its pixels (an implicit im2col, in bounded chunks, never a
full unfold), run as BLAS or as a oneDNN 1x1 convolution of the rows laid out
as an image, whichever is faster on the device (see row_images.py); the
forward of one group runs fused in C++ (window_products.py). The
straight-through gradient of the selection,
``dL/dz_n[p] = <dL/dy[p], W_n * x[window(p)] + b_n>``, needs every kernel's
response at every pixel; it is computed by convolutions over a few kernels at
a time. The functions take ops/selected_conv.py's arguments.
"""
from typing import List, Optional, Tuple

import torch

from .memory_format import memory_format_of, to_channels_last
from .row_images import IMAGE_WIDTH, as_image, as_rows, linear_rows
from .selected_conv_torch import selection_grad
from .window_products import can_fuse_window_products, window_products

# Elements of gathered windows per chunk, relative to the padded input size:
# in the forward, and in the backward, whose chunks also hold dL/dwindows
# (halved, for peak training memory).
_WINDOW_CHUNK_RATIO = 1
_BACKWARD_WINDOW_CHUNK_RATIO = 0.5
# The forward's chunks hold up to this many windows even where that is more
# than the ratio allows (<= 75 MB at 1024 channels, 3x3): larger products
# run faster (docs/benchmarks.md). The backward keeps to its ratio.
_MIN_FORWARD_CHUNK_ROWS = 2048
# Each chunk's 1x1 convolution runs on a multiple of this many rows, zero
# rows appended: oneDNN builds a primitive per new shape (slow), and the
# group sizes change with every selection; as_image then batches the rows.
_ROWS_MULTIPLE = IMAGE_WIDTH
# Kernel responses computed at once for the selection gradient, in units of
# the output's size.
_RESPONSE_CHUNK_OUTPUTS = 2
# oneDNN's channels-last convolutions beat its NCHW ones at few input
# channels and lose from 128 up (docs/benchmarks.md).
_CHANNELS_LAST_MAX_CHANNELS = 64


class _Windows:
    """Output pixels sorted by kernel, and how to gather their windows.

    Row ``base[p] + taps[t]`` of the padded channels-last input, flattened to
    ``(B * H_pad * W_pad, C_in)``, is tap ``t`` of output pixel ``p``'s window
    (``sorted_base`` holds ``base`` in sorted pixel order).
    Gathered windows are rows ``(P, kh * kw * C_in)``, group-major, then
    tap-major, channel-minor: the input of a grouped 1x1 convolution whose
    weight is :func:`_kernel_matrix`; ``chunk_ratio`` bounds a chunk's
    windows, in elements, by that multiple of the padded input's, or by
    ``min_chunk_rows`` windows if that is more.
    """

    def __init__(self,
                 x: torch.Tensor,
                 index: torch.Tensor,
                 kernel_size: Tuple[int, int],
                 stride,
                 padding,
                 dilation,
                 groups: int,
                 chunk_ratio: float,
                 min_chunk_rows: int = 1):
        padded, base, taps = _window_geometry(x, index.shape[-2:],
                                              kernel_size, stride, padding,
                                              dilation)
        channels = x.shape[1]
        self.rows = padded.view(-1, channels)
        self.padded_shape = padded.shape
        self.memory_format = memory_format_of(x)
        self.padding = padding
        self.groups = groups
        device = x.device
        # int32 row numbers where they fit: cheaper to add and to index by.
        row_dtype = (torch.int32 if self.rows.shape[0] <= torch.iinfo(
            torch.int32).max else torch.int64)
        self.taps = taps.to(row_dtype)
        self.order = torch.argsort(index.flatten())
        # First input row of each window, in sorted order.
        self.sorted_base = base[self.order].to(row_dtype)
        # Sorted position of each output pixel.
        self.unsort = torch.empty_like(self.order)
        self.unsort[self.order] = torch.arange(self.order.numel(),
                                               device=device)
        self.counts = torch.bincount(index.flatten()).tolist()
        self.window = self.taps.numel() * channels
        self.chunk = max(min_chunk_rows,
                         int(chunk_ratio * self.rows.numel()) // self.window)
        # One buffer for every chunk's windows: a fresh input-sized block per
        # chunk is a fresh mmap, whose page faults cost as much as the gather.
        self.workspace = self.rows.new_empty(
            _padded_count(min(self.chunk, index.numel())) * self.window)

    def chunks(self) -> List[Tuple[int, slice]]:
        """``(kernel, span of sorted positions)`` per chunk, kernels
        ascending (``order[span]`` are the chunk's output pixels); a
        kernel's pixels split into equal chunks (no small remainder GEMM)."""
        chunks, start = [], 0
        for kernel, count in enumerate(self.counts):
            pieces = -(-count // self.chunk)
            bounds = [start + i * count // pieces
                      for i in range(pieces + 1)] if count else []
            chunks += [(kernel, slice(first, last))
                       for first, last in zip(bounds, bounds[1:])]
            start += count
        return chunks

    def row_index(self, span: slice) -> torch.Tensor:
        """Input rows of the windows of the pixels ``order[span]``,
        ``(P * kh * kw,)``."""
        return (self.sorted_base[span].view(-1, 1) + self.taps).flatten()

    def window_buffer(self, pixels: int) -> torch.Tensor:
        """The workspace as ``(_padded_count(pixels), kh * kw * C_in)``, for at
        most one chunk; the next :meth:`gather` or :meth:`window_buffer`
        reuses it."""
        count = _padded_count(pixels)
        return self.workspace[:count * self.window].view(count, self.window)

    def gather(self, rows: torch.Tensor) -> torch.Tensor:
        """Windows ``(_padded_count(P), kh * kw * C_in)`` of the ``P`` pixels
        whose :meth:`row_index` is ``rows``, then zero rows (in the
        workspace when ``groups == 1``)."""
        pixels = rows.numel() // self.taps.numel()
        windows = self.window_buffer(pixels)
        torch.index_select(self.rows, 0, rows,
                           out=windows[:pixels].view(-1, self.rows.shape[1]))
        windows[pixels:].zero_()
        return self._swap_taps_and_groups(windows, self.taps.numel(),
                                          self.groups)

    def scatter_add(self, target: torch.Tensor, rows: torch.Tensor,
                    grad_windows: torch.Tensor) -> None:
        """Add the gradients of the first ``P`` of :meth:`gather`'s windows
        (``rows``: their :meth:`row_index`) into ``target`` shaped like
        :attr:`rows`."""
        pixels = rows.numel() // self.taps.numel()
        per_tap = self._swap_taps_and_groups(grad_windows[:pixels],
                                             self.groups, self.taps.numel())
        target.index_add_(0, rows, per_tap.view(-1, target.shape[1]))

    def crop(self, padded_rows: torch.Tensor) -> torch.Tensor:
        """Padded channels-last rows back to a tensor like the input, in
        its memory format (see memory_format.py)."""
        padded = padded_rows.view(self.padded_shape)
        height = padded.shape[1] - 2 * self.padding[0]
        width = padded.shape[2] - 2 * self.padding[1]
        return padded[:, self.padding[0]:self.padding[0] + height,
                      self.padding[1]:self.padding[1] + width].permute(
                          0, 3, 1, 2).contiguous(
                              memory_format=self.memory_format)

    @staticmethod
    def _swap_taps_and_groups(windows: torch.Tensor, outer: int,
                              inner: int) -> torch.Tensor:
        """Rows ``(P, outer, inner, c)`` as ``(P, inner, outer, c)``,
        flattened (a view when either is 1)."""
        pixels, width = windows.shape
        swapped = windows.view(pixels, outer, inner, -1).transpose(1, 2)
        return swapped.reshape(pixels, width)


def _window_geometry(
        x: torch.Tensor, out_size: Tuple[int, int], kernel_size: Tuple[int,
                                                                  int],
        stride, padding,
        dilation) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where the windows of the output pixels lie in the padded input.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``x`` zero-padded, channels-last, as
        ``(B, H_pad, W_pad, C_in)`` (no copy for an unpadded channels-last
        input); int64 ``(B * H_out * W_out,)``, the first row of each output
        pixel's window in it flattened to ``(B * H_pad * W_pad, C_in)``;
        int64 ``(kh * kw,)``, each tap's row offset from the first.
    """
    padded = to_channels_last(x, padding).permute(0, 2, 3, 1)
    pad_h, pad_w = padded.shape[1:3]
    out_h, out_w = out_size
    device = x.device
    base = (
        torch.arange(x.shape[0], device=device).view(-1, 1, 1) * pad_h *
        pad_w + torch.arange(out_h, device=device).view(1, -1, 1) *
        stride[0] * pad_w +
        torch.arange(out_w, device=device).view(1, 1, -1) * stride[1])
    taps = (torch.arange(kernel_size[0], device=device).view(-1, 1) *
            dilation[0] * pad_w +
            torch.arange(kernel_size[1], device=device).view(1, -1) *
            dilation[1]).flatten()
    return padded, base.flatten(), taps


def _padded_count(pixels: int) -> int:
    """``pixels`` rounded up to a multiple of :data:`_ROWS_MULTIPLE`."""
    return -(-pixels // _ROWS_MULTIPLE) * _ROWS_MULTIPLE


def _padded_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``rows[index]``, then zero rows up to
    ``_padded_count(len(index))``."""
    selected = rows.new_empty(_padded_count(index.numel()), rows.shape[1])
    torch.index_select(rows, 0, index, out=selected[:index.numel()])
    selected[index.numel():].zero_()
    return selected


def _kernel_matrix(weight: torch.Tensor, kernel: int,
                   out_channels: int) -> torch.Tensor:
    """Kernel ``kernel`` of ``(n * C_out, C_in / g, kh, kw)`` as the weight
    ``(C_out, kh * kw * C_in / g, 1, 1)`` of a grouped 1x1 convolution over
    the tap-major, channel-minor windows: a view of a channels-last
    ``weight`` (how PAFU stores its kernels), a copy otherwise."""
    rows = weight[kernel * out_channels:(kernel + 1) * out_channels]
    return rows.permute(0, 2, 3, 1).reshape(out_channels, -1, 1, 1)


def _add_kernel_grad(grad_weight: torch.Tensor, kernel: int,
                     grad_matrix: torch.Tensor) -> None:
    """Add a ``(C_out, kh * kw * C_in / g, 1, 1)`` gradient into kernel
    ``kernel``'s rows of ``grad_weight`` (inverse of :func:`_kernel_matrix`)."""
    out_channels = grad_matrix.shape[0]
    rows = grad_weight[kernel * out_channels:(kernel + 1) * out_channels]
    per_tap = rows.permute(0, 2, 3, 1)
    per_tap.add_(grad_matrix.view(per_tap.shape))


def selected_conv2d_backward(grad_out: torch.Tensor, x: torch.Tensor,
                             weight: torch.Tensor,
                             bias: Optional[torch.Tensor],
                             index: torch.Tensor, num_kernels: int, stride,
                             padding, dilation, groups: int, output_mask):
    """``dx``, ``dW``, ``db`` and the selection gradient, each where
    ``output_mask`` asks for it (see ops/selected_conv.py)."""
    need_x, need_weight, need_bias, need_selection = output_mask
    windows = _Windows(x, index, weight.shape[-2:], stride, padding,
                       dilation, groups, _BACKWARD_WINDOW_CHUNK_RATIO)
    # (B * H_out * W_out, C_out), pixel-major like the windows.
    grad_rows = grad_out.permute(0, 2, 3, 1).reshape(-1, grad_out.shape[1])
    grad_selection = None
    if need_selection:
        grad_selection = _selection_grad(x, windows, weight, bias, grad_out,
                                         grad_rows, num_kernels, stride,
                                         padding, dilation)
    grad_x, grad_weight, grad_bias = _selected_grads(
        windows, weight, bias, grad_rows, need_x, need_weight, need_bias)
    return grad_x, grad_weight, grad_bias, grad_selection


def _selected_grads(windows: _Windows, weight, bias, grad_rows, need_x,
                    need_weight, need_bias):
    """``dx``, ``dW``, ``db`` through the selected kernels only: per chunk,
    the backward of its 1x1 convolution."""
    groups = windows.groups
    out_channels = grad_rows.shape[1]
    need_bias = need_bias and bias is not None
    if not (need_x or need_weight or need_bias):
        return None, None, None
    grad_padded = torch.zeros_like(windows.rows) if need_x else None
    grad_weight = torch.zeros_like(weight) if need_weight else None
    grad_bias = torch.zeros_like(bias) if need_bias else None
    # convolution_backward's bias sizes, stride, padding, dilation,
    # transposed, output padding, groups.
    conv_args = ([out_channels], (1, 1), (0, 0), (1, 1), False, (0, 0),
                 groups)
    matrix, matrix_kernel = None, None
    for kernel, span in windows.chunks():
        pixels = windows.order[span]
        rows = windows.row_index(span)
        if kernel != matrix_kernel:
            matrix_kernel = kernel
            matrix = _kernel_matrix(weight, kernel, out_channels)
        grad_image = as_image(_padded_rows(grad_rows, pixels))
        if need_weight or need_bias:
            _, grad_matrix, grad_kernel_bias = (
                torch.ops.aten.convolution_backward(
                    grad_image, as_image(windows.gather(rows)), matrix,
                    *conv_args, (False, need_weight, need_bias)))
            if need_weight:
                _add_kernel_grad(grad_weight, kernel, grad_matrix)
            if need_bias:
                grad_bias.view(-1, out_channels)[kernel] += grad_kernel_bias
        if need_x:
            # Separately from dW: oneDNN's reordered copies for dW are
            # freed by then (0.2 of a conv's training memory at p512). dx
            # needs the windows' shape only.
            grad_windows = torch.ops.aten.convolution_backward(
                grad_image, as_image(windows.window_buffer(pixels.numel())),
                matrix, *conv_args, (True, False, False))[0]
            windows.scatter_add(grad_padded, rows, as_rows(grad_windows))
    grad_x = None if grad_padded is None else windows.crop(grad_padded)
    return grad_x, grad_weight, grad_bias


def _selection_grad(x, windows: _Windows, weight, bias, grad_out, grad_rows,
                    num_kernels, stride, padding, dilation) -> torch.Tensor:
    """``<dL/dy, W_n * x + b_n>`` at every pixel, ``(B, n, H_out, W_out)``,
    by :func:`selection_grad`. Up to :data:`_CHANNELS_LAST_MAX_CHANNELS`
    input channels it convolves the windows' padded channels-last input,
    above that ``x`` as given."""
    if x.shape[1] <= _CHANNELS_LAST_MAX_CHANNELS:
        source = windows.rows.view(windows.padded_shape).permute(0, 3, 1, 2)
        source_padding = (0, 0)
        # Pixel-major like the channels-last responses: no copy.
        grad_out = grad_rows.view(grad_out.shape[0], *grad_out.shape[2:],
                                  -1).permute(0, 3, 1, 2)
    else:
        source, source_padding = x, padding
    return selection_grad(grad_out, source, weight, bias, num_kernels, stride,
                          source_padding, dilation, windows.groups,
                          kernels_per_chunk=_RESPONSE_CHUNK_OUTPUTS)


def indexed_conv2d(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor], index: torch.Tensor,
                   num_kernels: int, stride, padding, dilation,
                   groups: int) -> torch.Tensor:
    """The selected convolution's forward; ``(B, C_out, H_out, W_out)`` in
    ``x``'s memory format."""
    out_channels = weight.shape[0] // num_kernels
    kernel_size = weight.shape[-2:]
    if can_fuse_window_products(x, kernel_size.numel() * x.shape[1], groups):
        padded, base, taps = _window_geometry(x, index.shape[-2:],
                                              kernel_size, stride, padding,
                                              dilation)
        out = window_products(
            padded.reshape(-1, x.shape[1]), base, taps, index.flatten(),
            weight.permute(0, 2, 3, 1).reshape(num_kernels, out_channels, -1),
            None if bias is None else bias.view(num_kernels, -1))
    else:
        out = _sorted_products(x, weight, bias, index, num_kernels, stride,
                               padding, dilation, groups)
    return out.view(*index.shape, out_channels).permute(0, 3, 1, 2).contiguous(
        memory_format=memory_format_of(x))


def _sorted_products(x, weight, bias, index, num_kernels, stride, padding,
                     dilation, groups) -> torch.Tensor:
    """:func:`indexed_conv2d`'s outputs as rows ``(B * H_out * W_out,
    C_out)``: per chunk of sorted windows, one product."""
    windows = _Windows(x, index, weight.shape[-2:], stride, padding, dilation,
                       groups, _WINDOW_CHUNK_RATIO, _MIN_FORWARD_CHUNK_ROWS)
    out_channels = weight.shape[0] // num_kernels
    biases = [None] * num_kernels if bias is None else bias.view(
        num_kernels, -1)
    # Rows in sorted order, each chunk a contiguous block.
    out = x.new_empty(index.numel(), out_channels)
    matrix, matrix_kernel = None, None
    for kernel, span in windows.chunks():
        if kernel != matrix_kernel:
            matrix_kernel = kernel
            matrix = _kernel_matrix(weight, kernel, out_channels)
        linear_rows(windows.gather(windows.row_index(span)),
                    matrix, biases[kernel], groups, out[span])
    # One row gather back to pixel order (index_copy_ of each chunk is
    # several times slower on the CPU).
    return out.index_select(0, windows.unsort)
