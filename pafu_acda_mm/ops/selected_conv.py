"""PAFU's selected convolution as torch ops, on the CPU and on CUDA.

``y[p] = W_{z(p)} * x[window(p)] + b_{z(p)}``: every output pixel ``p``
applies the one kernel of a group that its selection ``z`` picks. Three ops
in the ``pafu_acda_mm`` namespace:

- ``indexed_conv2d``: the forward from the selected indices (inference);
- ``selected_conv2d``: the same from a one-hot selection, differentiable:
  ``dx``, ``dW`` and ``db`` through the selected kernels, and the
  straight-through gradient of the selection,
  ``dL/dz_n[p] = <dL/dy[p], W_n * x[window(p)] + b_n>``; only the input, the
  kernels and the selected index are saved for backward;
- ``selected_conv2d_backward``: that backward.

Each computes on its input's device: the CPU in selected_conv_cpu.py
(BLAS, oneDNN and a C++ op); CUDA in selected_conv_cuda.py (Triton) where
Triton runs, else in selected_conv_torch.py (dense torch convolutions), as
:func:`cuda_backend` decides (``PAFU_ACDA_MM_CUDA_BACKEND`` and
:func:`force_cuda_backend` force either).
Registered with ``torch.library`` (torch >= 2.4), they stay one op each in
compiled models (no graph break, no recompilation per selection: the
per-kernel pixel counts never become guards) and in ``torch.export``.
"""
import contextlib
import functools
import importlib
import os
from types import ModuleType
from typing import Iterator, List, Optional, Sequence, Set, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor
from torch.torch_version import TorchVersion

from . import selected_conv_cpu, selected_conv_torch
from .memory_format import memory_format_of
from ..torch_compat import library_op

CUDA_BACKEND_VARIABLE = 'PAFU_ACDA_MM_CUDA_BACKEND'
CUDA_BACKENDS = ('auto', 'triton', 'torch')
# The oldest Triton the kernels compile with, and the oldest GPUs they are
# compiled and checked for (tools/analysis/compile_kernels.py): on Volta
# (7.0) triton 2.1 aborts half-precision products and triton 3 spills them.
MIN_TRITON_VERSION = (2, 1)
MIN_TRITON_CAPABILITY = (8, 0)

# Set within force_cuda_backend; it overrides the environment variable.
_forced_cuda_backend: Optional[str] = None
# (backend, reason) pairs logged so far: each is logged once per process.
_logged_cuda_backends: Set[Tuple[str, str]] = set()


def _checked_backend(name: str, source: str) -> str:
    if name not in CUDA_BACKENDS:
        raise ValueError(f'{source} must be one of {", ".join(CUDA_BACKENDS)}'
                         f', got {name!r}')
    return name


@contextlib.contextmanager
def force_cuda_backend(name: str) -> Iterator[None]:
    """Compute PAFU's ops on CUDA with ``name``'s implementation within the
    block, whatever ``PAFU_ACDA_MM_CUDA_BACKEND`` says.

    Args:
        name (str): ``'triton'`` (selected_conv_cuda.py), ``'torch'``
            (selected_conv_torch.py) or ``'auto'`` (:func:`cuda_backend`'s
            choice).
    """
    global _forced_cuda_backend
    previous = _forced_cuda_backend
    _forced_cuda_backend = _checked_backend(name, 'force_cuda_backend\'s name')
    try:
        yield
    finally:
        _forced_cuda_backend = previous


def requested_cuda_backend() -> str:
    """The CUDA implementation asked for: :func:`force_cuda_backend`'s within
    its block, else ``PAFU_ACDA_MM_CUDA_BACKEND`` (read at every call), else
    ``'auto'``.

    Raises:
        ValueError: If the variable is not one of :data:`CUDA_BACKENDS`.
    """
    if _forced_cuda_backend is not None:
        return _forced_cuda_backend
    return _checked_backend(
        os.environ.get(CUDA_BACKEND_VARIABLE, 'auto'), CUDA_BACKEND_VARIABLE)


def cuda_backend(capability: Optional[Tuple[int, int]],
                 triton_version: Optional[str],
                 requested: str = 'auto') -> Tuple[str, str]:
    """Which implementation computes PAFU's ops on a CUDA device, and why.

    Args:
        capability (tuple[int, int], optional): The device's compute
            capability; None where there is no CUDA device to ask (CUDA
            tensors are then Triton interpreter tests on the CPU).
        triton_version (str, optional): The importable Triton's version;
            None if it does not import.
        requested (str): One of :data:`CUDA_BACKENDS`; ``'auto'`` picks
            Triton where it is importable, at least
            :data:`MIN_TRITON_VERSION`, and the GPU at least
            :data:`MIN_TRITON_CAPABILITY`. Default: ``'auto'``.

    Returns:
        tuple[str, str]: ``'triton'`` or ``'torch'``, and the reason.

    Raises:
        RuntimeError: If Triton is requested and does not import.
    """
    if _checked_backend(requested, 'requested') != 'auto':
        if requested == 'triton' and triton_version is None:
            raise RuntimeError(
                f'{CUDA_BACKEND_VARIABLE} or force_cuda_backend asks for '
                "'triton', but triton does not import; ask for 'torch' or "
                "'auto'")
        return requested, (f'forced by {CUDA_BACKEND_VARIABLE} or '
                           'force_cuda_backend')
    if triton_version is None:
        return 'torch', 'triton does not import'
    oldest = '.'.join(map(str, MIN_TRITON_VERSION))
    if TorchVersion(triton_version) < MIN_TRITON_VERSION:
        return 'torch', f'triton {triton_version} is older than {oldest}'
    if capability is None:
        return 'triton', (f'triton {triton_version}, no CUDA device to ask '
                          "(Triton's interpreter)")
    device = 'compute capability {}.{}'.format(*capability)
    if tuple(capability) < MIN_TRITON_CAPABILITY:
        return 'torch', (f'{device}: the Triton kernels are built for '
                         '{}.{} and newer'.format(*MIN_TRITON_CAPABILITY))
    return 'triton', f'triton {triton_version} on {device}'


@functools.lru_cache(maxsize=None)
def _triton_version() -> Optional[str]:
    try:
        import triton
    except ImportError:
        return None
    return triton.__version__


def implementation(device: torch.device) -> ModuleType:
    """The module that computes the ops on ``device``; on CUDA,
    :func:`cuda_backend`'s choice, logged once per choice and reason.

    Raises:
        NotImplementedError: For a device other than CPU and CUDA.
    """
    if device.type == 'cpu':
        return selected_conv_cpu
    if device.type == 'cuda':
        capability = torch.cuda.get_device_capability(
            device) if torch.cuda.is_available() else None
        requested = requested_cuda_backend()
        # Forced to torch, Triton is not imported: it may be what fails.
        name, reason = cuda_backend(
            capability, None if requested == 'torch' else _triton_version(),
            requested)
        if (name, reason) not in _logged_cuda_backends:
            _logged_cuda_backends.add((name, reason))
            print_log(f"PAFU's ops compute CUDA tensors with {name}: "
                      f'{reason}', logger='current')
        if name == 'torch':
            return selected_conv_torch
        # On first use: Triton is not everywhere torch is, and its
        # interpreter must be chosen before the kernels are defined.
        return importlib.import_module(f'{__package__}.selected_conv_cuda')
    raise NotImplementedError(
        f'PAFU computes on cpu and cuda tensors, got a {device.type} tensor')


def _output(x: Tensor, weight: Tensor, num_kernels: int,
            out_size: Sequence[int]) -> Tensor:
    """An empty output ``(B, C_out, H_out, W_out)`` in ``x``'s memory
    format: what the ops return."""
    return torch.empty(x.shape[0], weight.shape[0] // num_kernels, *out_size,
                       dtype=x.dtype, device=x.device,
                       memory_format=memory_format_of(x))


def _indexed_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                    index: Tensor, num_kernels: int, stride: List[int],
                    padding: List[int], dilation: List[int],
                    groups: int) -> Tensor:
    out = implementation(x.device).indexed_conv2d(x, weight, bias, index,
                                                  num_kernels, tuple(stride),
                                                  tuple(padding),
                                                  tuple(dilation), groups)
    return out.contiguous(memory_format=memory_format_of(x))


def _fake_indexed_conv2d(x, weight, bias, index, num_kernels, stride,
                         padding, dilation, groups) -> Tensor:
    return _output(x, weight, num_kernels, index.shape[-2:])


_indexed_conv2d_op = library_op('pafu_acda_mm::indexed_conv2d',
                                _indexed_conv2d, _fake_indexed_conv2d)


def _selected_conv2d_backward(
        grad_out: Tensor, x: Tensor, weight: Tensor, bias: Optional[Tensor],
        index: Tensor, num_kernels: int, stride: List[int],
        padding: List[int], dilation: List[int], groups: int,
        output_mask: List[bool]) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    grads = implementation(x.device).selected_conv2d_backward(
        grad_out, x, weight, bias, index, num_kernels, tuple(stride),
        tuple(padding), tuple(dilation), groups, tuple(output_mask))
    # Strides as the fake's, so compiled code reads them right.
    layouts = (memory_format_of(x), memory_format_of(weight),
               torch.contiguous_format, torch.contiguous_format)
    return tuple(
        x.new_empty(0) if grad is None else grad.contiguous(
            memory_format=layout) for grad, layout in zip(grads, layouts))


def _fake_selected_conv2d_backward(grad_out, x, weight, bias, index,
                                   num_kernels, stride, padding, dilation,
                                   groups, output_mask):
    need_x, need_weight, need_bias, need_selection = output_mask
    need_bias = need_bias and bias is not None
    grads = (
        torch.empty_like(x, memory_format=memory_format_of(x)) if need_x else
        None,
        torch.empty_like(weight, memory_format=memory_format_of(weight))
        if need_weight else None,
        torch.empty_like(bias) if need_bias else None,
        x.new_empty(x.shape[0], num_kernels, *index.shape[-2:])
        if need_selection else None,
    )
    return tuple(x.new_empty(0) if grad is None else grad for grad in grads)


_selected_conv2d_backward_op = library_op(
    'pafu_acda_mm::selected_conv2d_backward', _selected_conv2d_backward,
    _fake_selected_conv2d_backward)


def _selected_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                     selection: Tensor, stride: List[int], padding: List[int],
                     dilation: List[int], groups: int) -> Tensor:
    return _indexed_conv2d(x, weight, bias, selection.argmax(dim=1),
                           selection.shape[1], stride, padding, dilation,
                           groups)


def _fake_selected_conv2d(x, weight, bias, selection, stride, padding,
                          dilation, groups) -> Tensor:
    return _output(x, weight, selection.shape[1], selection.shape[-2:])


def _setup_context(ctx, inputs, output) -> None:
    x, weight, bias, selection, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(x, weight, bias, selection.argmax(dim=1))
    ctx.num_kernels = selection.shape[1]
    ctx.conv_args = (stride, padding, dilation, groups)


def _backward(ctx, grad_out):
    x, weight, bias, index = ctx.saved_tensors
    needs = list(ctx.needs_input_grad[:4])
    grads = _selected_conv2d_backward_op(grad_out, x, weight, bias, index,
                                         ctx.num_kernels, *ctx.conv_args,
                                         needs)
    return (*(grad if need else None for grad, need in zip(grads, needs)),
            None, None, None, None)


_selected_conv2d_op = library_op('pafu_acda_mm::selected_conv2d',
                                 _selected_conv2d, _fake_selected_conv2d,
                                 _backward, _setup_context)


def selected_conv2d(x: Tensor,
                    weight: Tensor,
                    bias: Optional[Tensor],
                    selection: Tensor,
                    stride: Sequence[int] = (1, 1),
                    padding: Sequence[int] = (0, 0),
                    dilation: Sequence[int] = (1, 1),
                    groups: int = 1) -> Tensor:
    """Apply, at every output pixel, the kernel that ``selection`` picks.

    Args:
        x (Tensor): Input ``(B, C_in, H, W)``.
        weight (Tensor): Kernel group ``(n * C_out, C_in / groups, kh, kw)``,
            kernel ``i`` in rows ``i * C_out:(i + 1) * C_out``.
        bias (Tensor, optional): ``(n * C_out,)``, laid out like ``weight``.
        selection (Tensor): One-hot ``(B, n, H_out, W_out)`` in ``x``'s
            dtype; its gradient is the straight-through one.
        stride, padding, dilation (Sequence[int]): Pairs, as ``nn.Conv2d``.
        groups (int): As ``nn.Conv2d``.

    Returns:
        Tensor: ``(B, C_out, H_out, W_out)`` in ``x``'s memory format.
    """
    return _selected_conv2d_op(x, weight, bias, selection, list(stride),
                               list(padding), list(dilation), groups)


def indexed_conv2d(x: Tensor,
                   weight: Tensor,
                   bias: Optional[Tensor],
                   index: Tensor,
                   num_kernels: int,
                   stride: Sequence[int] = (1, 1),
                   padding: Sequence[int] = (0, 0),
                   dilation: Sequence[int] = (1, 1),
                   groups: int = 1) -> Tensor:
    """:func:`selected_conv2d`'s forward from the selected indices, without
    a selection gradient (inference).

    Args:
        index (Tensor): int64 ``(B, H_out, W_out)`` in ``[0, num_kernels)``.
        num_kernels (int): Kernels in ``weight``.
        x, weight, bias, stride, padding, dilation, groups: As
            :func:`selected_conv2d`.

    Returns:
        Tensor: ``(B, C_out, H_out, W_out)`` in ``x``'s memory format.
    """
    return _indexed_conv2d_op(x, weight, bias, index, num_kernels,
                              list(stride), list(padding), list(dilation),
                              groups)
