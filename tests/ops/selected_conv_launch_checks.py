"""What one PAFU training step launches on the CUDA code path: Triton
kernels and torch ops, counted on CUDA or in Triton's interpreter (run by
test_selected_conv_triton.py in a process of its own), and no host
synchronisation."""
import collections

import pytest
import torch
from torch.utils._python_dispatch import (TorchDispatchMode,
                                          _disable_current_modes)

from pafu_acda_mm.layers import PAFU

pytestmark = pytest.mark.triton

# Ops that read a device value on the host (a synchronisation on CUDA).
SYNCHRONISING_OPS = {
    'aten._local_scalar_dense', 'aten.nonzero', 'aten.masked_select',
    'aten.unique', 'aten._unique2', 'aten.unique_consecutive',
    'aten.bincount', 'aten.repeat_interleave', 'aten.equal',
    'aten.is_nonzero', 'aten.item'
}


# Ops that allocate or alias without computing (no kernel launch).
NO_LAUNCH_OPS = {
    'aten.empty', 'aten.empty_like', 'aten.new_empty', 'aten.empty_strided',
    'aten.detach'
}


class _Counting(TorchDispatchMode):
    """Counts the torch ops that launch device work, by name: views and
    allocations are none, nor are the plugin's own ops (what they run is
    counted through :func:`_counted_inside`)."""

    def __init__(self):
        super().__init__()
        self.ops = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = f'{func.namespace}.{func._opname}'
        if not (func.namespace == 'pafu_acda_mm' or func.is_view
                or name in NO_LAUNCH_OPS):
            self.ops[name] += 1
        return func(*args, **(kwargs or {}))


def _counted_inside(function, counting: _Counting):
    """``function`` with ``counting`` active again while it runs (a dispatch
    mode is off inside an op it intercepted)."""

    def counted(*args, **kwargs):
        with counting:
            return function(*args, **kwargs)

    return counted


class _CountedLaunches:
    """A kernel whose launches are counted, each run outside any dispatch
    mode."""

    def __init__(self, kernel, launches: collections.Counter, name: str):
        self.kernel, self.launches, self.name = kernel, launches, name

    def __getitem__(self, grid):
        launch = self.kernel[grid]

        def counted(*args, **options):
            self.launches[self.name] += 1
            with _disable_current_modes():
                return launch(*args, **options)

        return counted


# From the design, per training step of one PAFU layer with n = 4 kernels.
# Triton: the pixel sort (3 launches) and the forward; the sort again (the
# op's backward is handed the selected index, not the forward's sort), dx
# (1), dW and db per chunk (1) and their sums per kernel (1 each); the
# selection gradient by cuDNN.
MAX_KERNEL_LAUNCHES = 11
# Torch: the selector (2 convs, 2 BatchNorms, ReLU), the Gumbel-softmax
# (noise, logs, softmax, argmax, one-hot, straight-through), the loss and
# all their backwards: about 40; the selected conv itself: the argmax, dx's
# zeroed planes and their sum, dz's 2 chunks of a dense conv, a product and
# a sum, and their concatenation.
MAX_TORCH_OPS = 60


def test_a_pafu_training_step_launches_few_kernels_and_ops(
        triton_ops, triton_device, monkeypatch):
    monkeypatch.setattr(triton_ops, 'SELECTION_GRADIENT', 'cudnn')
    launches = collections.Counter()
    for name in dir(triton_ops):
        if name.endswith('_kernel'):
            monkeypatch.setattr(
                triton_ops, name,
                _CountedLaunches(getattr(triton_ops, name), launches, name))
    layer = PAFU(8, 8, kernel_size=3, padding=1, num_kernels=4).to(
        triton_device).train()
    x = torch.randn(2, 8, 6, 6, device=triton_device, requires_grad=True)
    counting = _Counting()
    for name in ('indexed_conv2d', 'selected_conv2d_backward'):
        monkeypatch.setattr(
            triton_ops, name,
            _counted_inside(getattr(triton_ops, name), counting))
    with counting:
        layer(x).square().sum().backward()
    total_ops = sum(counting.ops.values())
    print(f'kernel launches: {dict(launches)}')
    print(f'torch ops ({total_ops}): {dict(counting.ops.most_common())}')
    assert not SYNCHRONISING_OPS & set(counting.ops), counting.ops
    assert sum(launches.values()) <= MAX_KERNEL_LAUNCHES, launches
    assert total_ops <= MAX_TORCH_OPS, counting.ops
