"""The plain-torch implementation of PAFU's selected convolution
(ops/selected_conv_torch.py) against its definition on CPU tensors, over the
Triton kernels' geometry grid, and how the ops choose it for CUDA tensors."""
import logging

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from selected_conv_triton_checks import (GEOMETRIES, _index, _output_size,
                                         naive_selected_conv2d)

from pafu_acda_mm.ops import selected_conv, selected_conv_torch


@pytest.fixture
def torch_ops(monkeypatch):
    """The ops computing CPU tensors with ops/selected_conv_torch.py."""
    monkeypatch.setattr(selected_conv, 'implementation',
                        lambda device: selected_conv_torch)


def _compare(case: dict, selection_name: str = 'random',
             dtype=torch.float64, tolerance: float = 1e-12) -> None:
    """The ops on the torch path in ``dtype`` against the definition in fp64
    from the same (rounded) values: output and every gradient, each within
    ``tolerance`` of the reference's largest magnitude. ``case``: a
    :data:`GEOMETRIES` entry and its defaults (selected_conv_triton_checks'
    ``_compare`` sizes its selections by the Triton kernels' tiles)."""
    case = {**_DEFAULT_CASE, **case}
    in_channels, out_channels = case['channels']
    num_kernels, groups = case['num_kernels'], case['groups']
    conv_args = [case[name] for name in ('stride', 'padding', 'dilation')]
    out_size = _output_size(case['size'], case['kernel_size'], *conv_args)
    index = _index(selection_name, case['batch'], out_size, num_kernels,
                   block=16)
    inputs = [
        torch.randn(case['batch'], in_channels, *case['size']),
        torch.randn(num_kernels * out_channels, in_channels // groups,
                    *case['kernel_size']),
        torch.randn(num_kernels * out_channels) if case['bias'] else None,
        F.one_hot(index, num_kernels).permute(0, 3, 1, 2).float(),
    ]
    grad_out = torch.randn(case['batch'], out_channels, *out_size)
    memory_format = (torch.channels_last
                     if case['channels_last'] else torch.contiguous_format)
    results = []
    for run_dtype, function in ((dtype, selected_conv.selected_conv2d),
                                (torch.float64, naive_selected_conv2d)):
        leaves = [
            None if value is None else value.to(dtype).to(
                run_dtype, copy=True).requires_grad_() for value in inputs
        ]
        x = leaves[0].contiguous(memory_format=memory_format)
        out = function(x, *leaves[1:], *conv_args, groups)
        out.backward(grad_out.to(dtype).to(run_dtype))
        results.append([out] + [
            leaf.grad for leaf in leaves if leaf is not None])
    assert results[0][0].is_contiguous(memory_format=memory_format)
    names = ['out', 'dx', 'dW'] + ['db'] * case['bias'] + ['dz']
    for name, actual, expected in zip(names, *results):
        assert actual.shape == expected.shape, name
        error = (actual.double() - expected).abs().max().item()
        assert error <= tolerance * expected.abs().max().item(), (name,
                                                                   error)


_DEFAULT_CASE = dict(batch=2, size=(9, 8), channels=(4, 6), num_kernels=3,
                     kernel_size=(3, 3), groups=1, channels_last=False,
                     bias=True, stride=(1, 1), padding=(1, 1),
                     dilation=(1, 1))


@pytest.mark.parametrize('dtype,tolerance', [(torch.float64, 1e-12),
                                             (torch.float32, 1e-5)],
                         ids=['fp64', 'fp32'])
@pytest.mark.parametrize('geometry', list(GEOMETRIES))
def test_torch_path_equals_the_definition(torch_ops, geometry, dtype,
                                          tolerance):
    """Output, dx, dW, db and the selection gradient (three kernels: a full
    chunk of two and a partial one)."""
    _compare(GEOMETRIES[geometry], dtype=dtype, tolerance=tolerance)


@pytest.mark.parametrize('selection_name',
                         ['unused kernel', 'one kernel', 'block boundaries'])
def test_torch_path_equals_the_definition_for_any_selection(
        torch_ops, selection_name):
    _compare(dict(size=(10, 10), num_kernels=4), selection_name)


def test_torch_path_in_bf16(torch_ops):
    """Five kernels (three chunks): the error left is that of rounding the
    inputs and results to bf16."""
    _compare(dict(channels=(16, 16), num_kernels=5), dtype=torch.bfloat16,
             tolerance=1e-2)


def test_torch_path_passes_gradcheck(torch_ops):
    """Against finite differences, with two groups, stride and dilation (the
    selection is a constant: its gradient is the straight-through one)."""
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3 * 2, 1, 2, 3, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.randn(3 * 2, dtype=torch.float64, requires_grad=True)
    index = torch.randint(3, (1, 5, 3))
    selection = F.one_hot(index, 3).permute(0, 3, 1, 2).to(x)
    assert torch.autograd.gradcheck(
        lambda x, weight, bias: selected_conv.selected_conv2d(
            x, weight, bias, selection, (1, 2), (1, 1), (2, 1), 2),
        (x, weight, bias), fast_mode=True)


@pytest.mark.parametrize('capability,triton_version,requested,expected', [
    ((6, 1), '3.7.0', 'auto', ('torch', 'compute capability 6.1')),
    ((7, 0), '3.7.0', 'auto', ('torch', 'compute capability 7.0')),
    ((8, 0), '2.1.0', 'auto', ('triton', 'triton 2.1.0')),
    ((9, 0), None, 'auto', ('torch', 'triton does not import')),
    ((9, 0), '2.0.0', 'auto', ('torch', 'triton 2.0.0 is older than 2.1')),
    (None, '3.7.0', 'auto', ('triton', "Triton's interpreter")),
    ((6, 1), '3.7.0', 'triton', ('triton', 'forced')),
    ((9, 0), '3.7.0', 'torch', ('torch', 'forced')),
    ((9, 0), None, 'torch', ('torch', 'forced')),
])
def test_cuda_backend_decides_by_gpu_and_triton(capability, triton_version,
                                                requested, expected):
    name, reason = selected_conv.cuda_backend(capability, triton_version,
                                              requested)
    assert name == expected[0]
    assert expected[1] in reason


def test_forcing_triton_without_triton_is_refused():
    with pytest.raises(RuntimeError, match="'triton', but triton does not"):
        selected_conv.cuda_backend((9, 0), None, 'triton')


def test_environment_variable_and_context_manager_force_the_backend(
        monkeypatch):
    cuda = torch.device('cuda')
    monkeypatch.setenv('PAFU_ACDA_MM_CUDA_BACKEND', 'torch')
    assert selected_conv.implementation(cuda) is selected_conv_torch
    monkeypatch.setenv('PAFU_ACDA_MM_CUDA_BACKEND', 'triton')
    with selected_conv.force_cuda_backend('torch'):
        assert selected_conv.requested_cuda_backend() == 'torch'
        with selected_conv.force_cuda_backend('auto'):
            assert selected_conv.requested_cuda_backend() == 'auto'
        assert selected_conv.implementation(cuda) is selected_conv_torch
    assert selected_conv.requested_cuda_backend() == 'triton'


def test_bad_backend_names_are_refused_with_the_allowed_values(monkeypatch):
    monkeypatch.setenv('PAFU_ACDA_MM_CUDA_BACKEND', 'cudnn')
    with pytest.raises(ValueError,
                       match='PAFU_ACDA_MM_CUDA_BACKEND must be one of auto, '
                       "triton, torch, got 'cudnn'"):
        selected_conv.implementation(torch.device('cuda'))
    with pytest.raises(ValueError, match="force_cuda_backend's name must be "
                       "one of auto, triton, torch, got 'Torch'"):
        with selected_conv.force_cuda_backend('Torch'):
            pass


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_the_choice_is_logged_once_per_reason(monkeypatch):
    monkeypatch.setattr(selected_conv, '_logged_cuda_backends', set())
    records = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        with selected_conv.force_cuda_backend('torch'):
            for _ in range(2):
                selected_conv.implementation(torch.device('cuda'))
    finally:
        logger.removeHandler(records)
    assert records.messages == [
        "PAFU's ops compute CUDA tensors with torch: forced by "
        'PAFU_ACDA_MM_CUDA_BACKEND or force_cuda_backend'
    ]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_torch_path_on_cuda_equals_the_cpu_without_host_syncs():
    """Forced on a GPU: the ops, forward and every gradient, equal the CPU
    path's in fp64 and never wait for the host."""
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    weight = torch.randn(3 * 6, 2, 3, 3, dtype=torch.float64)
    bias = torch.randn(3 * 6, dtype=torch.float64)
    selection = F.one_hot(torch.randint(3, (2, 9, 8)), 3).permute(0, 3, 1, 2)
    grad_out = torch.randn(2, 6, 9, 8, dtype=torch.float64)
    results = []
    for device in ('cpu', 'cuda'):
        leaves = [
            tensor.to(device, torch.float64).requires_grad_()
            for tensor in (x, weight, bias, selection)
        ]
        with selected_conv.force_cuda_backend('torch'):
            torch.cuda.set_sync_debug_mode('error')
            try:
                out = selected_conv.selected_conv2d(*leaves, padding=(1, 1),
                                                    groups=2)
                out.backward(grad_out.to(device))
            finally:
                torch.cuda.set_sync_debug_mode('default')
        results.append([out] + [leaf.grad for leaf in leaves])
    for on_cpu, on_cuda in zip(*results):
        torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=0, atol=1e-10)
