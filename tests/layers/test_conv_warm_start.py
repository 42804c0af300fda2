"""A PAFU or ACDA that loads a plain conv's parameters starts as that conv
(conv_warm_start.py's maths, plain_conv_loading.py's loading and summary)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conv_warm_start_checks import SUMMARY, pafu_step0_bound, summary_lines
from mmengine.runner.checkpoint import load_state_dict as mmengine_load
from pafu_selection import force_kernel

from pafu_acda_mm.layers import (ACDA, PAFU, multiscale_fourier_bessel_bases,
                                 pafu_decorrelation_loss)
from pafu_acda_mm.layers.conv_warm_start import (acda_params_from_conv,
                                                 pafu_params_from_conv)

# -- PAFU ---------------------------------------------------------------------


def test_pafu_kernels_are_the_conv_plus_orthogonal_steps_of_size_eps():
    conv_weight = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    weight, bias = pafu_params_from_conv(conv_weight, torch.randn(6), 4,
                                         eps=1e-2)
    kernels = weight.view(4, 6, -1)
    rows = conv_weight.view(1, 6, -1)
    steps = kernels - rows
    torch.testing.assert_close(steps.norm(dim=2),
                               1e-2 * rows.norm(dim=2).expand(4, 6))
    units = steps / steps.norm(dim=2, keepdim=True)
    # Orthogonal to the conv's row and to each other, per output channel.
    torch.testing.assert_close((units * rows).sum(2),
                               torch.zeros(4, 6).double(), atol=1e-9, rtol=0)
    gram = torch.einsum('nod,mod->onm', units, units)
    torch.testing.assert_close(gram, torch.eye(4).expand(6, 4, 4).double(),
                               atol=1e-9, rtol=0)
    assert torch.equal(bias.view(4, 6), bias[:6].expand(4, 6))
    again, _ = pafu_params_from_conv(conv_weight, None, 4, eps=1e-2)
    assert torch.equal(again, weight)  # deterministic


@pytest.mark.parametrize('num_kernels, eps', [(1, 1e-2), (4, 0.)])
def test_pafu_kernels_are_exactly_the_conv_without_perturbation(
        num_kernels, eps):
    conv_weight = torch.randn(6, 4, 3, 3)
    weight, _ = pafu_params_from_conv(conv_weight, None, num_kernels, eps=eps)
    assert torch.equal(weight, conv_weight.repeat(num_kernels, 1, 1, 1))


def test_pafu_kernels_differ_where_there_is_no_room_for_orthogonality():
    weight, _ = pafu_params_from_conv(torch.randn(5, 2, 1, 1), None, 4)
    kernels = weight.view(4, 5, 2)
    assert all(not torch.equal(kernels[n], kernels[m]) for n in range(4)
               for m in range(n))


@pytest.mark.parametrize('kwargs', [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(3, 5), stride=2, padding=(1, 2), dilation=(1, 2),
         groups=2),
])
def test_pafu_output_is_the_convs_within_the_bound_whatever_the_selection(
        kwargs):
    conv = nn.Conv2d(4, 6, **kwargs)
    pafu = PAFU(4, 6, num_kernels=4, warm_start_eps=1e-2, **kwargs)
    pafu.load_state_dict(conv.state_dict(), strict=False)
    x = torch.randn(2, 4, 11, 12)
    expected = conv(x)
    bound = pafu_step0_bound(pafu, conv.weight, x)
    pafu.train()  # a random selection per pixel
    outputs = [pafu(x)]
    pafu.eval()
    for kernel in range(4):
        force_kernel(pafu, kernel)
        outputs.append(pafu(x))
    for out in outputs:
        change = (out - expected).abs()
        assert bool((change <= bound * (1 + 1e-5) + 1e-6).all())
        assert change.max() > 0.1 * bound.max()  # the kernels do differ


def test_pafu_mixed_sizes_take_the_centre_when_the_ring_is_zero():
    conv = nn.Conv2d(3, 4, 5, padding=2)
    with torch.no_grad():
        conv.weight[..., [0, -1], :] = 0
        conv.weight[..., :, [0, -1]] = 0
    pafu = PAFU(3, 4, 5, padding=2, num_kernels=4, kernel_sizes=(3, 5))
    pafu.load_state_dict(conv.state_dict(), strict=False)
    kernels = pafu.weight.view(4, 4, 3, 5, 5)
    assert not kernels[:2, ..., [0, -1], :].any()  # the 3x3 kernels
    x = torch.randn(1, 3, 9, 9)
    bound = pafu_step0_bound(pafu, conv.weight, x)
    assert bool(((pafu.eval()(x) - conv(x)).abs() <= bound + 1e-6).all())


def test_pafu_mixed_sizes_refuse_a_conv_with_a_nonzero_ring():
    conv = nn.Sequential(nn.Conv2d(3, 4, 5))
    model = nn.Sequential(PAFU(3, 4, 5, num_kernels=4, kernel_sizes=(3, 5)))
    with pytest.raises(ValueError, match=r'kernels of size \[3\]'):
        pafu_params_from_conv(conv[0].weight, None, 4,
                              model[0].kernel_support)
    before = model[0].weight.clone()
    with summary_lines() as lines, pytest.raises(RuntimeError,
                                                 match='size mismatch'):
        model.load_state_dict(conv.state_dict(), strict=False)
    assert torch.equal(model[0].weight, before)
    (line, ) = lines
    assert 'into 0 adaptive layers' in line
    assert 'not converted (1' in line and '0: the conv has non-zero' in line


# -- ACDA ---------------------------------------------------------------------


@pytest.mark.parametrize('generator_cfg', [
    None,
    dict(norm_cfg=dict(type='BN'), out_act_cfg=None),
])
def test_acda_is_a_1x1_conv_exactly(generator_cfg):
    conv = nn.Sequential(nn.Conv2d(8, 6, 1))
    model = nn.Sequential(ACDA(8, 6, 1, generator_cfg=generator_cfg))
    with summary_lines() as lines:
        model.load_state_dict(conv.state_dict(), strict=False)
    x = torch.randn(2, 8, 7, 7)
    for mode in (True, False):
        model.train(mode)
        torch.testing.assert_close(model(x), conv(x), atol=1e-5, rtol=1e-5)
    (line, ) = lines
    assert line == (f'{SUMMARY} into 1 adaptive layers (ACDA: 1); ACDA '
                    'relative residual: largest 0.000 (0), per layer: 0 0.000')


def test_acda_is_exact_for_kernels_in_its_span():
    layer = ACDA(4, 6, 5, padding=2, num_atoms=3, groups=2)
    bases = multiscale_fourier_bessel_bases(layer.scales).float()
    atoms = torch.einsum('ab,bhw->ahw', torch.randn(3, len(bases)), bases)
    conv = nn.Conv2d(4, 6, 5, padding=2, groups=2)
    with torch.no_grad():
        conv.weight.copy_(torch.einsum('oca,ahw->ochw', torch.randn(6, 2, 3),
                                       atoms))
    params = acda_params_from_conv(conv.weight, conv.bias, layer.fb_bases, 3)
    assert params.relative_residual < 1e-6
    layer.load_state_dict(conv.state_dict(), strict=False)
    x = torch.randn(2, 4, 9, 9)
    torch.testing.assert_close(layer(x), conv(x), atol=1e-4, rtol=1e-4)


def test_acda_computes_the_best_approximation_and_reports_its_residual():
    layer = ACDA(5, 7, 3, padding=1, num_atoms=2)
    conv = nn.Conv2d(5, 7, 3, padding=1)
    params = acda_params_from_conv(conv.weight, conv.bias, layer.fb_bases, 2)
    # Eckart-Young on the kernels' least-squares projections onto the span.
    slices = conv.weight.detach().double().flatten(2).reshape(35, 9)
    flat_bases = layer.fb_bases[0].double().flatten(1)
    solution = torch.linalg.lstsq(flat_bases.t(), slices.t()).solution
    projected = (flat_bases.t() @ solution).t()
    singular = torch.linalg.svdvals(projected)
    optimum = ((slices - projected).square().sum() +
               singular[2:].square().sum()).sqrt() / slices.norm()
    assert params.relative_residual == pytest.approx(float(optimum), rel=1e-6)
    assert params.relative_residual == pytest.approx(
        float((params.kernel - conv.weight).norm() / conv.weight.norm()),
        rel=1e-4)
    assert float(params.coefficients.abs().max()) == pytest.approx(0.5)
    layer.load_state_dict(conv.state_dict(), strict=False)
    x = torch.randn(2, 5, 8, 8)
    torch.testing.assert_close(
        layer(x), F.conv2d(x, params.kernel, conv.bias, padding=1),
        atol=1e-5, rtol=1e-4)


def test_acda_atoms_beyond_the_rank_are_live():
    """A 1x1 conv has rank 1 in ACDA's span: the other atoms start with
    zero ``A`` and a non-zero atom, so both get gradients."""
    conv = nn.Conv2d(3, 4, 1)
    layer = ACDA(3, 4, 1, num_atoms=3)
    layer.load_state_dict(conv.state_dict(), strict=False)
    layer(torch.randn(2, 3, 6, 6)).square().sum().backward()
    weight_grad = layer.weight.grad.view(4, 3, 3)
    assert bool(weight_grad.ne(0).flatten(0, 1).any(dim=0).all())  # each A
    assert layer.atom_generator.predict.weight.grad.abs().sum() > 0
    no_grad = [name for name, p in layer.named_parameters() if p.grad is None]
    assert no_grad == []


def test_acda_generator_predicts_the_static_coefficients():
    conv = nn.Conv2d(3, 4, 5, padding=2)
    layer = ACDA(3, 4, 5, padding=2)
    layer.load_state_dict(conv.state_dict(), strict=False)
    params = acda_params_from_conv(conv.weight, conv.bias, layer.fb_bases,
                                   layer.num_atoms)
    x, padding = layer.pad_input(torch.randn(2, 3, 8, 8))
    coeffs = layer.atom_generator(x, layer.kernel_size, layer.stride,
                                  padding, layer.dilation)
    torch.testing.assert_close(
        coeffs, params.coefficients.view(1, -1, 1, 1).expand_as(coeffs))


# -- Loading ------------------------------------------------------------------


class _Net(nn.Module):
    """Two convs and a 1x1 conv, each plain or adaptive."""

    def __init__(self, first=None, second=None, third=None):
        super().__init__()
        self.first = (first or nn.Conv2d)(3, 8, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), (second
                                             or nn.Conv2d)(8, 8, 3, padding=1))
        self.third = (third or nn.Conv2d)(8, 4, 1)

    def forward(self, x):
        return self.third(self.body(self.first(x)))


def _pafu(*args, **kwargs):
    return PAFU(*args, num_kernels=3, **kwargs)


@pytest.mark.parametrize('loader', ['torch', 'mmengine'])
def test_one_summary_line_per_load(loader):
    plain = _Net()
    model = _Net(_pafu, ACDA, ACDA)
    with summary_lines() as lines:
        for _ in range(2):
            if loader == 'torch':
                result = model.load_state_dict(plain.state_dict(),
                                               strict=False)
                assert not result.unexpected_keys
            else:
                mmengine_load(model, plain.state_dict())
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith(
        f'{SUMMARY} into 3 adaptive layers (ACDA: 2, PAFU: 1); ACDA relative '
        'residual: largest ')
    assert lines[0].endswith('third 0.000')  # 1x1: exact
    x = torch.randn(1, 3, 6, 6)
    model.eval()
    torch.testing.assert_close(model.first(x), plain.first(x), atol=0.05,
                               rtol=0)


def test_a_submodule_loaded_alone_before_still_gives_one_line():
    """A module that was a load's root keeps its post hook; loaded again as
    part of the whole model, the whole model's load gives one line."""
    plain = _Net()
    model = _Net(_pafu, ACDA, ACDA)
    with summary_lines() as lines:
        model.body.load_state_dict(plain.body.state_dict(), strict=False)
        model.load_state_dict(plain.state_dict(), strict=False)
    assert [line.split(' (')[0] for line in lines] == [
        f'{SUMMARY} into 1 adaptive layers',
        f'{SUMMARY} into 3 adaptive layers'
    ]


def test_a_layer_of_other_channels_is_named_and_keeps_the_mismatch():
    plain = _Net()
    plain.third = nn.Conv2d(8, 5, 1)
    model = _Net(_pafu, third=ACDA)
    before = model.third.weight.clone()
    with summary_lines() as lines:
        mmengine_load(model, plain.state_dict())
    assert torch.equal(model.third.weight, before)
    (line, ) = lines
    assert line.startswith(f'{SUMMARY} into 1 adaptive layers (PAFU: 1); '
                           'not converted (1')
    assert ('third: conv weight (5, 8, 1, 1), this layer converts '
            '(4, 8, 1, 1)') in line


def test_an_adaptive_checkpoint_loads_as_saved():
    source = _Net(_pafu, ACDA)
    model = _Net(_pafu, ACDA)
    with summary_lines() as lines:
        model.load_state_dict(source.state_dict())
        # Without the selectors and generators: their weights, as saved.
        model.load_state_dict({
            name: value
            for name, value in source.state_dict().items()
            if 'selector' not in name and 'generator' not in name
        }, strict=False)
    for name, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    assert lines == []


def test_a_plain_conv_without_bias_gives_a_zero_bias():
    conv = nn.Conv2d(3, 4, 3, bias=False)
    pafu = PAFU(3, 4, 3, num_kernels=2)
    pafu.load_state_dict(conv.state_dict(), strict=False)
    assert not pafu.bias.any()
    assert pafu.weight.is_contiguous(memory_format=torch.channels_last)


# -- Fine-tuning leaves the symmetric point -----------------------------------


def test_fine_tuning_from_a_warm_start_parts_the_kernels():
    """The target needs two kernels (which one depends on the input's
    sign); the pretrained conv is one of them. From the first step the
    selector learns (the kernels differ), and fine-tuning moves the kernels
    apart far beyond the initial perturbation, more than one of them
    selected."""
    teacher = [nn.Conv2d(4, 4, 3, padding=1) for _ in range(2)]
    pafu = PAFU(4, 4, 3, padding=1, num_kernels=4)
    pafu.load_state_dict(teacher[0].state_dict(), strict=False)
    initial_spread = (pafu.weight.reshape(4, -1) - teacher[0].weight.view(
        1, -1)).norm(dim=1).max()
    optimizer = torch.optim.SGD(pafu.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(16):
        x = torch.randn(8, 4, 10, 10)
        with torch.no_grad():
            target = torch.where(x[:, :1] > 0, teacher[0](x), teacher[1](x))
        loss = F.mse_loss(pafu(x), target) + 1e-3 * pafu_decorrelation_loss(
            pafu)
        optimizer.zero_grad()
        loss.backward()
        assert pafu.selector.predict.weight.grad.abs().sum() > 0
        optimizer.step()
        losses.append(float(loss))
    assert all(torch.isfinite(p).all() for p in pafu.parameters())
    assert losses[-1] < 0.7 * losses[0]
    kernels = pafu.weight.detach().reshape(4, -1)
    spread = torch.cdist(kernels, kernels)
    assert spread[~torch.eye(4, dtype=torch.bool)].min() > 10 * initial_spread
    _, index = pafu.eval()(torch.randn(4, 4, 10, 10), return_selection=True)
    counts = torch.bincount(index.flatten(), minlength=4)
    assert int((counts > 0.05 * index.numel()).sum()) >= 2
