import os

import pytest
import torch

from pafu_acda_mm.ops import selected_conv


@pytest.fixture
def triton_device() -> torch.device:
    """Where the Triton kernels run: on the GPU when there is one, else in
    Triton's interpreter on CPU tensors."""
    return torch.device('cuda' if torch.cuda.is_available() else 'cpu')


@pytest.fixture
def triton_kernels(triton_device):
    """ops/selected_conv_cuda.py, with kernels that run on
    ``triton_device``.

    Without a GPU, ``TRITON_INTERPRET=1`` must have been set before Triton
    was imported (test_selected_conv_triton.py starts a process so).
    """
    pytest.importorskip('triton', minversion='3.0')
    from triton.language import standard
    from triton.runtime.interpreter import InterpretedFunction

    if triton_device.type == 'cpu' and not (
            os.environ.get('TRITON_INTERPRET') == '1'
            and isinstance(standard.cdiv, InterpretedFunction)):
        pytest.fail('No GPU: the Triton kernels run in the interpreter only '
                    'with TRITON_INTERPRET=1 set before triton is imported')
    with selected_conv.force_cuda_backend('triton'):
        return selected_conv.implementation(torch.device('cuda'))


@pytest.fixture
def compute_on_triton(triton_device, triton_kernels, monkeypatch):
    """A function that makes the ops compute ``triton_device``'s tensors
    with :func:`triton_kernels` from then on (CUDA tensors go there anyway,
    CPU tensors then do)."""

    def route():
        if triton_device.type == 'cpu':
            monkeypatch.setattr(selected_conv, 'implementation',
                                lambda device: triton_kernels)

    return route


@pytest.fixture
def triton_ops(triton_kernels, compute_on_triton):
    """:func:`triton_kernels`, the ops computing with them."""
    compute_on_triton()
    return triton_kernels
