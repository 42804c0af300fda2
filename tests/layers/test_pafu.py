import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pafu_acda_mm.layers import PAFU, pafu_decorrelation_loss
from pafu_acda_mm.ops import (row_images, selected_conv2d, selected_conv_cpu,
                              window_products)
from pafu_acda_mm.torch_compat import TORCH_VERSION


def per_kernel_reference(layer: PAFU, x, selection):
    """Eq. 2 with a plain autograd graph: sum_n z_n * conv(x, W_n) + b_n."""
    kernels = layer.kernels.view(layer.num_kernels, layer.out_channels,
                                 *layer.kernels.shape[1:])
    biases = (layer.bias.view(layer.num_kernels, -1)
              if layer.bias is not None else [None] * layer.num_kernels)
    out = 0
    for n in range(layer.num_kernels):
        response = F.conv2d(x, kernels[n], biases[n], layer.stride,
                            layer.padding, layer.dilation, layer.groups)
        out = out + selection[:, n:n + 1] * response
    return out


def _apply_selected(layer, x, selection):
    return selected_conv2d(x, layer.kernels, layer.bias, selection,
                           layer.stride, layer.padding, layer.dilation,
                           layer.groups)


@pytest.fixture(params=['one chunk', 'tiny chunks', 'unpadded chunks'])
def chunking(request, monkeypatch):
    """Also run with one pixel and one kernel response per chunk or fused
    block, and with each chunk's rows not padded to a multiple of 64 and
    fused blocks of 16 pixels (a kernel's pixels split unevenly)."""
    if request.param == 'tiny chunks':
        monkeypatch.setattr(window_products, 'BLOCK_PIXELS', 1)
        monkeypatch.setattr(selected_conv_cpu, '_WINDOW_CHUNK_RATIO', 0)
        monkeypatch.setattr(selected_conv_cpu, '_MIN_FORWARD_CHUNK_ROWS', 1)
        monkeypatch.setattr(selected_conv_cpu, '_BACKWARD_WINDOW_CHUNK_RATIO', 0)
        monkeypatch.setattr(selected_conv_cpu, '_RESPONSE_CHUNK_OUTPUTS', 1)
    elif request.param == 'unpadded chunks':
        monkeypatch.setattr(window_products, 'BLOCK_PIXELS', 16)
        monkeypatch.setattr(selected_conv_cpu, '_ROWS_MULTIPLE', 1)


@pytest.fixture(params=['channels-last responses', 'responses of x'])
def response_source(request, monkeypatch):
    """Both inputs of the selection gradient's convolutions."""
    if request.param == 'responses of x':
        monkeypatch.setattr(selected_conv_cpu, '_CHANNELS_LAST_MAX_CHANNELS', 0)


@pytest.fixture(
    params=['BLAS products', 'oneDNN products', 'fused window products'])
def products(request, monkeypatch):
    """Every way the forward computes its per-kernel products, whatever
    this CPU's default: fused in C++ for one group (window_products.py), or
    per chunk (row_images.linear_rows)."""
    fused = request.param == 'fused window products'
    monkeypatch.setattr(selected_conv_cpu, 'can_fuse_window_products',
                        lambda x, window, groups: fused and groups == 1)
    monkeypatch.setattr(row_images, 'is_onednn_preferred',
                        lambda device: request.param == 'oneDNN products')


@pytest.mark.usefixtures('chunking', 'response_source', 'products')
@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3, padding=1),
    # Dilations differing between height and width: taps' row offsets.
    dict(kernel_size=5, kernel_sizes=(3, 5), padding=2, stride=2,
         dilation=(1, 2)),
    # Rectangular, of even height.
    dict(kernel_size=(2, 3), padding=(1, 2), stride=(1, 2), dilation=2),
    dict(kernel_size=5, padding=1, dilation=2, groups=2, bias=False),
    dict(kernel_size=3, stride=(1, 2), dilation=(2, 1), groups=4),
])
@pytest.mark.parametrize('weight_format',
                         [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize('input_format',
                         [torch.contiguous_format, torch.channels_last])
def test_selected_conv_equals_per_kernel_definition_with_gradients(
        kwargs, weight_format, input_format):
    # PAFU stores its kernels channels-last; kernels set from outside may
    # come in any layout.
    layer = PAFU(4, 8, num_kernels=4, **kwargs).double()
    layer.weight.data = layer.weight.data.contiguous(
        memory_format=weight_format)
    x = torch.randn(2, 4, 11, 10, dtype=torch.float64).contiguous(
        memory_format=input_format).requires_grad_()
    logits = torch.randn(2, 4, *layer(x).shape[-2:], dtype=torch.float64,
                         requires_grad=True)
    selection = F.one_hot(logits.argmax(1), 4).permute(0, 3, 1, 2).to(
        logits) + logits.softmax(1) - logits.softmax(1).detach()
    grad_out = torch.randn_like(layer(x))
    params = [x, logits] + [layer.weight] + (
        [layer.bias] if layer.bias is not None else [])
    fast = _apply_selected(layer, x, selection)
    naive = per_kernel_reference(layer, x, selection)
    assert torch.allclose(fast, naive, atol=1e-12, rtol=0)
    fast_grads = torch.autograd.grad((fast * grad_out).sum(), params,
                                     retain_graph=True)
    naive_grads = torch.autograd.grad((naive * grad_out).sum(), params)
    for f, n in zip(fast_grads, naive_grads):
        assert torch.allclose(f, n, atol=1e-10, rtol=0)


@pytest.mark.parametrize('size', [(9, 9), (10, 7)])
@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3),
    dict(kernel_size=3, padding=1, stride=2),
    dict(kernel_size=(1, 3), padding=(0, 1)),
    dict(kernel_size=(3, 1), padding='same', dilation=(2, 1)),
    dict(kernel_size=4, padding='same'),
    dict(kernel_size=(2, 5), padding='same', dilation=(3, 1),
         padding_mode='circular'),
    dict(kernel_size=2, stride=2, padding='valid'),
    dict(kernel_size=5, padding=(2, 0), stride=(2, 3),
         padding_mode='reflect'),
    dict(kernel_size=3, padding=2, dilation=2, padding_mode='replicate',
         groups=3, bias=False),
])
@pytest.mark.parametrize('batched', [True, False])
def test_one_kernel_pafu_equals_conv2d_of_the_same_arguments(
        kwargs, size, batched):
    """``kernel_size``, ``padding`` (``'same'``, ``'valid'``),
    ``padding_mode``, stride, dilation, groups and unbatched inputs mean what
    they mean for ``nn.Conv2d``: with one kernel, PAFU is that conv."""
    conv = nn.Conv2d(3, 6, **kwargs).double()
    layer = PAFU(3, 6, num_kernels=1, **kwargs).double()
    with torch.no_grad():
        layer.weight.copy_(conv.weight)
        if conv.bias is not None:
            layer.bias.copy_(conv.bias)
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    x = x if batched else x[0]
    out, selection = layer(x, return_selection=True)
    expected = conv(x)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)
    assert selection.shape == expected.shape[:-3] + expected.shape[-2:]
    assert selection.dtype == torch.int64


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=7, kernel_sizes=(5, 7), padding=3, stride=2,
         dilation=2),
    dict(kernel_size=(2, 4), padding='same', num_kernels=3),
])
def test_output_shape_matches_conv2d(kwargs):
    x = torch.randn(1, 3, 10, 7)
    conv_kwargs = {k: v for k, v in kwargs.items()
                   if k not in ('kernel_sizes', 'num_kernels')}
    expected = nn.Conv2d(3, 5, **conv_kwargs)(x).shape
    out = PAFU(3, 5, **dict(dict(num_kernels=4), **kwargs))(x)
    assert out.shape == expected


def test_wrong_input_names_the_layers_in_channels():
    layer = PAFU(8, 4, 3)
    with pytest.raises(RuntimeError, match='in_channels=8 got an input with '
                       '16 channels'):
        layer(torch.randn(1, 16, 5, 5))
    with pytest.raises(RuntimeError, match='4-D .* or unbatched 3-D'):
        layer(torch.randn(8, 5))


def test_every_parameter_gets_a_gradient_selector_included():
    layer = PAFU(3, 4, 3, padding=1, num_kernels=8)
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    layer(x).pow(2).mean().backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_unselected_kernels_stay_in_the_graph():
    # DDP without find_unused_parameters needs a gradient for every kernel,
    # even one that no pixel picked.
    layer = PAFU(2, 2, 3, padding=1, num_kernels=4)
    with torch.no_grad():
        layer.selector.predict_norm.bias.copy_(
            torch.tensor([0., 0., 0., -1e6]))
    x = torch.randn(1, 2, 8, 8)
    out, selection = layer(x, return_selection=True)
    assert (selection != 3).all()
    out.sum().backward()
    assert layer.weight.grad is not None


def test_mixed_kernel_sizes_keep_zero_borders():
    layer = PAFU(2, 3, 5, num_kernels=4, kernel_sizes=(5, 3))
    kernels = layer.kernels.view(4, 3, 2, 5, 5)
    border = torch.ones(5, 5, dtype=torch.bool)
    border[1:4, 1:4] = False
    assert layer.kernel_sizes == (3, 5)
    assert (kernels[:2][..., border] == 0).all()
    assert (kernels[2:][..., border] != 0).any()
    layer(torch.randn(1, 2, 9, 9)).sum().backward()
    # Gradients never leak into the padding of the small kernels.
    grad = layer.weight.grad.view(4, 3, 2, 5, 5)
    assert (grad[:2][..., border] == 0).all()


def test_eval_selection_is_deterministic_argmax():
    layer = PAFU(3, 4, 3, padding=1, num_kernels=6).eval()
    x = torch.randn(2, 3, 10, 10)
    out1, sel1 = layer(x, return_selection=True)
    out2, sel2 = layer(x, return_selection=True)
    assert torch.equal(out1, out2) and torch.equal(sel1, sel2)
    assert torch.equal(sel1, layer.selection_logits(x).argmax(1))
    layer.train()
    _, sel_train = layer(x, return_selection=True)
    assert not torch.equal(sel_train, sel1)  # Gumbel noise in training


@pytest.mark.parametrize('input_format',
                         [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize('training', [False, True])
def test_no_grad_forward_equals_the_autograd_forward(training, input_format):
    """Without grad, PAFU skips the one-hot selection and its softmax; the
    output and the selection (noise included) must not change, and both
    keep the input's memory format."""
    layer = PAFU(3, 5, 5, padding=2, num_kernels=4,
                 kernel_sizes=(3, 5)).train(training)
    x = torch.randn(2, 3, 11, 9).contiguous(memory_format=input_format)
    torch.manual_seed(3)
    out, index = layer(x, return_selection=True)
    assert out.requires_grad
    torch.manual_seed(3)
    with torch.no_grad():
        fast_out, fast_index = layer(x, return_selection=True)
    assert torch.equal(fast_index, index)
    assert torch.equal(fast_out, out)
    assert out.is_contiguous(memory_format=input_format)
    assert fast_out.is_contiguous(memory_format=input_format)


def _conv2d_runs_in(dtype) -> bool:
    """Whether this torch's CPU convolutions have ``dtype`` kernels (torch
    2.1's have none for fp16)."""
    try:
        nn.Conv2d(1, 1, 1).to(dtype)(torch.ones(1, 1, 1, 1, dtype=dtype))
    except RuntimeError:
        return False
    return True


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_forward_backward_is_finite(dtype):
    """Where ``nn.Conv2d`` runs in ``dtype`` on the CPU, PAFU does, and
    finitely, even with a saturated selector; where it does not, PAFU fails
    as it does."""
    layer = PAFU(3, 4, 3, padding=1, num_kernels=4).to(dtype)
    if not _conv2d_runs_in(dtype):
        with pytest.raises(RuntimeError, match='not implemented for'):
            layer(torch.randn(1, 3, 8, 8, dtype=dtype))
        return
    with torch.no_grad():  # saturate the selector
        layer.selector.predict.weight.mul_(1e3)
    x = torch.randn(1, 3, 8, 8, dtype=dtype)
    out = layer(x)
    assert out.dtype == dtype and torch.isfinite(out).all()
    out.float().sum().backward()
    assert torch.isfinite(layer.weight.grad.float()).all()


def test_autocast_bf16_on_cpu():
    layer = PAFU(3, 4, 3, padding=1, num_kernels=4)
    x = torch.randn(2, 3, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert layer.weight.grad.dtype == torch.float32
    assert torch.isfinite(layer.weight.grad).all()


def test_decorrelation_loss_identical_kernels_maximal_orthonormal_zero():
    layer = PAFU(1, 1, 3, num_kernels=4)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(1, 1, 3, 3).expand(4, 1, 3, 3) * 2)
    assert layer.decorrelation_loss().item() == pytest.approx(4 * 3)
    with torch.no_grad():
        layer.weight.zero_()
        for n, (i, j) in enumerate([(0, 0), (1, 2), (2, 1), (2, 2)]):
            layer.weight[n, 0, i, j] = 3.0 * (n + 1)  # scale is normalised
    assert layer.decorrelation_loss().item() == pytest.approx(0, abs=1e-12)


def test_decorrelation_loss_of_a_model_is_the_mean_over_units():
    model = nn.Sequential(
        PAFU(2, 2, 3, num_kernels=4), nn.ReLU(),
        nn.Sequential(PAFU(2, 2, 5, num_kernels=2, kernel_sizes=(3, 5))))
    expected = (model[0].decorrelation_loss() +
                model[2][0].decorrelation_loss()) / 2
    loss = pafu_decorrelation_loss(model)
    assert torch.allclose(loss, expected)
    loss.backward()
    assert model[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='no PAFU'):
        pafu_decorrelation_loss(nn.Conv2d(1, 1, 1))


@pytest.mark.parametrize('in_channels,out_channels', [(3, 1), (1, 4), (1, 1)])
def test_single_channel_units_build_and_run(in_channels, out_channels):
    layer = PAFU(in_channels, out_channels, 5, padding=2, num_kernels=2,
                 kernel_sizes=(3, 5))
    assert layer(torch.randn(1, in_channels, 6, 6)).shape == (1,
                                                              out_channels,
                                                              6, 6)


@pytest.mark.parametrize('kwargs,match', [
    (dict(kernel_size=0), 'kernel_size'),
    (dict(kernel_size=(3, 5, 7)), 'kernel_size'),
    (dict(kernel_size=5, kernel_sizes=(3, 4)), 'kernel_sizes'),
    (dict(kernel_size=5, kernel_sizes=(3, 7)), 'kernel_sizes'),
    (dict(kernel_size=(5, 3), kernel_sizes=(3, 5)), 'kernel_sizes'),
    (dict(kernel_size=3, num_kernels=0), 'num_kernels'),
    (dict(kernel_size=5, kernel_sizes=(3, 5), num_kernels=3), 'num_kernels'),
    (dict(kernel_size=3, tau=0), 'tau'),
    (dict(kernel_size=3, groups=3), 'groups'),
    (dict(kernel_size=3, padding=-1), 'padding'),
    (dict(kernel_size=3, padding='full'), "'same', 'valid'"),
    (dict(kernel_size=3, padding='same', stride=2), 'strided'),
    (dict(kernel_size=3, padding_mode='mirror'), "padding_mode must be one "
     r"of \('zeros', 'reflect', 'replicate', 'circular'\)"),
    (dict(kernel_size=3, selector_cfg=dict(kernel_size=2)), 'kernel_size'),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PAFU(4, 4, **kwargs)


def test_kernels_are_stored_so_that_each_gemm_matrix_is_a_view():
    layer = PAFU(6, 4, 3, num_kernels=3)
    assert layer.weight.is_contiguous(memory_format=torch.channels_last)
    for kernel in range(3):
        matrix = selected_conv_cpu._kernel_matrix(layer.weight, kernel, 4)
        assert matrix.shape == (4, 3 * 3 * 6, 1, 1)
        assert matrix.untyped_storage().data_ptr() == (
            layer.weight.untyped_storage().data_ptr())
    # Conversions keep the layout.
    assert layer.double().weight.is_contiguous(
        memory_format=torch.channels_last)


def test_compiled_pafu_matches_eager_without_recompiling_per_selection():
    # Traced, the per-kernel pixel counts would be constants: every new
    # selection would recompile. From torch 2.4 the selected conv is a torch
    # op, kept in the graph: no graph break either.
    torch._dynamo.reset()
    layer = PAFU(4, 4, 3, padding=1, num_kernels=4)
    compiled = torch.compile(layer, fullgraph=TORCH_VERSION >= (2, 4))
    x = torch.randn(2, 4, 10, 10, requires_grad=True)
    selections = []
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(3):  # training mode: a new Gumbel sample each
            out, selection = compiled(x, return_selection=True)
            out.sum().backward()
            selections.append(selection)
    assert not torch.equal(selections[0], selections[1])
    layer.eval()  # the argmax: compiled and eager must agree
    assert torch.allclose(compiled(x), layer(x), atol=1e-6)
