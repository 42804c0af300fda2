"""The Triton kernels of PAFU's selected convolution against its definition,
on CUDA or in Triton's interpreter (see conftest.py): shapes are tiny, the
interpreter runs one program at a time."""
import contextlib
import copy
import inspect

import pytest
import torch
import torch.nn.functional as F

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.ops import selected_conv

pytestmark = pytest.mark.triton


def naive_selected_conv2d(x, weight, bias, selection, stride, padding,
                          dilation, groups):
    """``sum_n z_n * (W_n * x + b_n)`` under plain autograd."""
    num_kernels = selection.shape[1]
    kernels = weight.view(num_kernels, -1, *weight.shape[1:])
    biases = ([None] * num_kernels
              if bias is None else bias.view(num_kernels, -1))
    return sum(selection[:, n:n + 1] *
               F.conv2d(x, kernels[n], biases[n], stride, padding, dilation,
                        groups) for n in range(num_kernels))


def _output_size(size, kernel_size, stride, padding, dilation):
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, k, st, p, d in
                 zip(size, kernel_size, stride, padding, dilation))


def _index(name: str, batch: int, out_size, num_kernels: int,
           block: int) -> torch.Tensor:
    """A selection ``(B, H_out, W_out)``: ``random``; ``unused kernel``
    (kernel 1 picked by no pixel); ``one kernel`` (every pixel the last);
    ``block boundaries`` (kernels 0, 1, 2 picked by one block of pixels, one
    more, one fewer; the rest by kernel 3)."""
    shape = (batch, *out_size)
    pixels = batch * out_size[0] * out_size[1]
    if name == 'random':
        return torch.randint(num_kernels, shape)
    if name == 'unused kernel':
        index = torch.randint(num_kernels - 1, shape)
        return index + (index >= 1).long()
    if name == 'one kernel':
        return torch.full(shape, num_kernels - 1)
    counts = [block, block + 1, block - 1]
    kernels = torch.full((pixels, ), 3)
    kernels[:sum(counts)] = torch.repeat_interleave(
        torch.arange(3), torch.tensor(counts))
    return kernels[torch.randperm(pixels)].view(shape)


def _compare(device: torch.device, case: dict,
             selection_name: str = 'random', dtype=torch.float32,
             tolerance: float = 1e-5) -> None:
    """The op on ``device`` in ``dtype`` against the definition in fp64 from
    the same (rounded) values: output and every gradient, each within
    ``tolerance`` of the reference's largest magnitude."""
    case = dict(case)
    batch, size = case.pop('batch', 2), case.pop('size', (9, 8))
    in_channels, out_channels = case.pop('channels', (4, 6))
    num_kernels = case.pop('num_kernels', 3)
    kernel_size = case.pop('kernel_size', (3, 3))
    groups = case.pop('groups', 1)
    channels_last = case.pop('channels_last', False)
    bias = case.pop('bias', True)
    conv_args = tuple(
        case.pop(name, default)
        for name, default in (('stride', (1, 1)), ('padding', (1, 1)),
                              ('dilation', (1, 1))))
    assert not case, f'unknown keys {case}'
    out_size = _output_size(size, kernel_size, *conv_args)
    kernels = selected_conv.implementation(device)
    block = kernels.tile_config(kernels.precision_of(dtype),
                                in_channels // groups,
                                out_channels // groups).block_m
    index = _index(selection_name, batch, out_size, num_kernels, block)
    inputs = dict(
        x=torch.randn(batch, in_channels, *size),
        weight=torch.randn(num_kernels * out_channels,
                           in_channels // groups, *kernel_size),
        bias=torch.randn(num_kernels * out_channels) if bias else None,
        selection=F.one_hot(index, num_kernels).permute(0, 3, 1, 2).float())
    grad_out = torch.randn(batch, out_channels, *out_size, dtype=torch.float64)
    results = []
    for run_dtype, run_device, function in (
            (dtype, device, selected_conv.selected_conv2d),
            (torch.float64, torch.device('cpu'), naive_selected_conv2d)):
        leaves = {
            name: None if value is None else value.to(dtype).to(
                run_device, run_dtype, copy=True).requires_grad_()
            for name, value in inputs.items()
        }
        x = leaves['x']
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = function(x, leaves['weight'], leaves['bias'],
                       leaves['selection'], *conv_args, groups)
        out.backward(grad_out.to(run_device, out.dtype))
        results.append([out] + [
            leaves[name].grad
            for name in ('x', 'weight', 'bias', 'selection')
            if leaves[name] is not None
        ])
        if channels_last and function is not naive_selected_conv2d:
            assert out.is_contiguous(memory_format=torch.channels_last)
    names = ['out', 'dx', 'dW', 'db', 'dz'] if bias else [
        'out', 'dx', 'dW', 'dz'
    ]
    for name, actual, expected in zip(names, *results):
        assert actual.shape == expected.shape, name
        scale = expected.abs().max().item()
        error = (actual.cpu().double() - expected).abs().max().item()
        assert error <= tolerance * scale, (name, error, scale)


GEOMETRIES = {
    '3x3': dict(),
    'stride 2, dilations differing': dict(kernel_size=(5, 5), stride=(2, 2),
                                          padding=(2, 2), dilation=(1, 2)),
    'even rectangular': dict(kernel_size=(2, 3), padding=(1, 2),
                             stride=(1, 2), dilation=(2, 2)),
    'two groups, no bias': dict(channels=(4, 8), kernel_size=(5, 5),
                                padding=(1, 1), dilation=(2, 2), groups=2,
                                bias=False),
    'four groups, channels-last': dict(channels=(4, 8), stride=(1, 2),
                                       dilation=(2, 1), groups=4,
                                       channels_last=True),
    '1x1, odd sizes': dict(kernel_size=(1, 1), padding=(0, 0), size=(7, 5),
                           channels=(3, 5)),
    'unpadded, one image': dict(batch=1, padding=(0, 0), size=(11, 13)),
}


@pytest.mark.parametrize('geometry', list(GEOMETRIES))
def test_triton_kernels_equal_the_definition(triton_ops, triton_device,
                                             geometry):
    _compare(triton_device, GEOMETRIES[geometry])


@pytest.mark.parametrize('selection_name',
                         ['unused kernel', 'one kernel', 'block boundaries'])
def test_triton_kernels_equal_the_definition_for_any_selection(
        triton_ops, triton_device, selection_name):
    _compare(triton_device, dict(size=(10, 10), num_kernels=4),
             selection_name)


def test_channels_beyond_one_tile_and_pixels_beyond_one_block(
        triton_ops, triton_device, monkeypatch):
    """Channel loops over several tiles, the last one partial, and every
    kernel's pixels over several blocks."""
    monkeypatch.setattr(triton_ops, 'tile_config',
                        lambda *shape: triton_ops.TileConfig(16, 16, 16, 4, 1))
    _compare(triton_device, dict(channels=(20, 18), size=(6, 5)))
    _compare(triton_device, dict(channels=(40, 36), size=(5, 5), groups=2))


@pytest.mark.parametrize('dtype,tolerance', [
    (torch.float64, 1e-12),
    (torch.float16, 2e-3),
    (torch.bfloat16, 1e-2),
])
def test_triton_kernels_in_each_dtype_accumulate_in_fp32(
        triton_ops, triton_device, dtype, tolerance):
    """Inputs (and ``dL/dy``) rounded to ``dtype``; what error is left is
    that of the fp32 sums and of rounding the results to ``dtype``."""
    if dtype == torch.bfloat16 and triton_device.type == 'cpu':
        pytest.skip('bf16 tl.dot is wrong in the interpreter (triton issue '
                    '11584): checked on a GPU only')
    _compare(triton_device, dict(channels=(16, 16), num_kernels=2),
             dtype=dtype, tolerance=tolerance)


def test_sort_pixels_puts_each_kernel_in_whole_blocks(triton_kernels,
                                                      triton_device):
    block, num_kernels = 4, 5
    # Kernel 1 unused, kernel 2 fills two blocks exactly, kernel 4 one pixel.
    index = torch.tensor([0, 2, 3, 2, 2, 0, 3, 2, 2, 0, 3, 2, 2, 4, 2],
                         device=triton_device)
    sorted_pixels, block_kernels, starts = triton_kernels.sort_pixels(
        index, num_kernels, block)
    pixels = index.numel()
    assert starts.tolist() == [0, 4, 4, 12, 16, 20]
    # Upper bound of the padded length: as many blocks as pixels could need.
    assert sorted_pixels.numel() == block * block_kernels.numel() == 4 * 8
    assert block_kernels.tolist() == [0, 2, 2, 3, 4, 5, 5, 5]
    for position, pixel in enumerate(sorted_pixels.tolist()):
        kernel = block_kernels[position // block].item()
        if pixel < pixels:
            assert index[pixel].item() == kernel
    real = sorted_pixels[sorted_pixels < pixels]
    # Every pixel once, each kernel's in pixel order (a stable sort).
    assert sorted(real.tolist()) == list(range(pixels))
    assert (sorted_pixels[20:] == pixels).all()
    assert real.tolist() == sorted(range(pixels),
                                   key=lambda p: index[p].item())


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=5, kernel_sizes=(3, 5), padding=2, stride=2),
])
@pytest.mark.parametrize('grad', [True, False])
def test_pafu_on_triton_equals_pafu_on_the_cpu(triton_device,
                                               compute_on_triton, kwargs,
                                               grad):
    """The layer, selector included, in eval mode (the same argmax on both
    devices): output, selection and every gradient; mixed kernel sizes keep
    their zero borders."""
    layer = PAFU(4, 6, num_kernels=4, **kwargs).double().eval()
    x = torch.randn(2, 4, 9, 10, dtype=torch.float64)
    results = []
    for module, device in ((layer, torch.device('cpu')),
                           (copy.deepcopy(layer).to(triton_device),
                            triton_device)):
        if module is not layer:
            compute_on_triton()
        inputs = x.to(device).requires_grad_(grad)
        with torch.set_grad_enabled(grad):
            out, index = module(inputs, return_selection=True)
        grads = []
        if grad:
            out.pow(2).sum().backward()
            grads = [inputs.grad] + [p.grad for p in module.parameters()]
        results.append((out, index, grads))
    (cpu_out, cpu_index, cpu_grads), (out, index, grads) = results
    assert torch.equal(index.cpu(), cpu_index)
    torch.testing.assert_close(out.cpu(), cpu_out, rtol=0, atol=1e-12)
    for grad_on_device, cpu_grad in zip(grads, cpu_grads):
        torch.testing.assert_close(grad_on_device.cpu(), cpu_grad, rtol=0,
                                   atol=1e-10)




@pytest.fixture(autouse=True)
def exact_fp32_and_triton_selection_grad(triton_kernels, monkeypatch):
    """fp32 products exact (the kernels follow cuDNN's TF32 flag) and the
    selection gradient by the Triton kernel, unless a test sets them."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setattr(triton_kernels, 'SELECTION_GRADIENT', 'triton')


class _RecordedLaunches:
    """A kernel that records each launch: its name, the device guard open
    around it (``None`` if none) and its arguments by name."""

    def __init__(self, name, kernel, open_guards, launches):
        self.name, self.kernel = name, kernel
        self.open_guards, self.launches = open_guards, launches

    def __getitem__(self, grid):
        launch = self.kernel[grid]

        def record(*args, **options):
            names = inspect.signature(self.kernel.fn).parameters
            self.launches.append(
                (self.name, self.open_guards[-1] if self.open_guards else
                 None, dict(zip(names, args))))
            return launch(*args, **options)

        return record


@pytest.fixture
def launches(triton_ops, monkeypatch):
    """The kernel launches made from then on, as :class:`_RecordedLaunches`
    records them, under a device guard that records its device."""
    open_guards, records = [], []

    @contextlib.contextmanager
    def recording_guard(device):
        open_guards.append(device)
        try:
            yield
        finally:
            open_guards.pop()

    monkeypatch.setattr(triton_ops, 'device_guard', recording_guard)
    for name in dir(triton_ops):
        if name.endswith('_kernel'):
            monkeypatch.setattr(
                triton_ops, name,
                _RecordedLaunches(name, getattr(triton_ops, name),
                                  open_guards, records))
    return records


def test_every_launch_runs_on_its_tensors_device(triton_device, launches):
    """Each kernel launches inside :func:`device_guard` of its operands'
    device: Triton launches on the current CUDA device, not the tensors'."""
    _compare(triton_device, dict(size=(5, 4)))
    assert {name for name, _, _ in launches} == {
        '_count_pixels_kernel', '_place_groups_kernel',
        '_scatter_pixels_kernel', '_forward_kernel', '_input_grad_kernel',
        '_weight_grad_kernel', '_sum_weight_grad_kernel',
        '_selection_grad_kernel'
    }
    tensors_device = torch.empty(0, device=triton_device).device
    assert all(device == tensors_device for _, device, _ in launches)


@pytest.mark.parametrize('allow_tf32', [False, True])
def test_fp32_products_follow_cudnns_tf32_flag(triton_device, launches,
                                               monkeypatch, allow_tf32):
    """fp32 products in TF32 where PyTorch's convs use it
    (``torch.backends.cudnn.allow_tf32``), exact otherwise; within TF32's
    error either way (the interpreter computes TF32 products exactly)."""
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', allow_tf32)
    _compare(triton_device, dict(channels=(16, 16)),
             tolerance=5e-3 if allow_tf32 else 1e-5)
    products = [args for _, _, args in launches if 'EXACT' in args]
    assert len(products) == 4
    assert all(args['EXACT'] is not allow_tf32 for args in products)


def test_selection_gradient_by_dense_convolutions(triton_ops, triton_device,
                                                  monkeypatch):
    """The other formulation of ``SELECTION_GRADIENT`` (cuDNN's dense
    convolutions; the default) equals the definition too, and a third is
    refused by name."""
    monkeypatch.setattr(triton_ops, 'SELECTION_GRADIENT', 'cudnn')
    _compare(triton_device, GEOMETRIES['two groups, no bias'])
    _compare(triton_device, GEOMETRIES['stride 2, dilations differing'])
    monkeypatch.setattr(triton_ops, 'SELECTION_GRADIENT', 'dense')
    with pytest.raises(ValueError, match="SELECTION_GRADIENT must be"):
        _compare(triton_device, dict(size=(4, 4)))


def test_fp32_precision_follows_the_per_operator_flag(triton_kernels,
                                                      monkeypatch):
    """torch >= 2.9's ``torch.backends.cudnn.conv.fp32_precision`` (after
    which reading ``allow_tf32`` raises if the two APIs were mixed)."""
    conv = getattr(torch.backends.cudnn, 'conv', None)
    if conv is None:
        pytest.skip('torch < 2.9 has allow_tf32 only')
    for precision in ('ieee', 'tf32'):
        monkeypatch.setattr(conv, 'fp32_precision', precision)
        assert triton_kernels.precision_of(torch.float32) == precision


def test_fp64_where_triton_has_no_fp64_products(triton_device, triton_ops,
                                                launches, monkeypatch):
    """Where Triton cannot compile fp64 products (triton 2.1), fp64 computes
    by ops/selected_conv_torch.py: as exact, and no kernel launches."""
    monkeypatch.setattr(triton_ops, 'FP64_PRODUCTS', False)
    _compare(triton_device, dict(size=(5, 6)), dtype=torch.float64,
             tolerance=1e-12)
    assert not launches
