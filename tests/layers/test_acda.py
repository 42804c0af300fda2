import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pafu_acda_mm.layers import ACDA, acda_conv2d_taps


def naive_acda(layer: ACDA, x: torch.Tensor) -> torch.Tensor:
    """Eq. 2: build every pixel's filter K_ij = A . (alpha_ij psi), apply it."""
    k = layer.kernel_size[0]
    coeffs = layer.atom_generator(x, layer.kernel_size, layer.stride,
                                  layer.padding, layer.dilation)
    batch, _, out_h, out_w = coeffs.shape
    # The layer's own (float32-rounded) bases, centred in the k x k window.
    bases = torch.cat([
        F.pad(b, [(k - b.shape[-1]) // 2] * 4) for b in layer.fb_bases
    ]).to(x).flatten(1)  # (S*m', k*k)
    alpha = coeffs.view(batch, layer.num_atoms, -1, out_h * out_w)
    atoms = torch.einsum('bakl,kt->batl', alpha, bases)  # (B, m, k*k, L)
    groups, in_channels = layer.groups, layer.in_channels
    coefficient = x.new_zeros(layer.out_channels, in_channels,
                              layer.num_atoms)
    per_group_out = layer.out_channels // groups
    per_group_in = in_channels // groups
    for g in range(groups):
        rows = slice(g * per_group_out, (g + 1) * per_group_out)
        cols = slice(g * per_group_in, (g + 1) * per_group_in)
        coefficient[rows, cols] = layer.weight[rows, :, 0, 0].reshape(
            per_group_out, per_group_in, layer.num_atoms)
    filters = torch.einsum('oca,batl->boctl', coefficient, atoms)
    patches = F.unfold(x, k, layer.dilation, layer.padding, layer.stride)
    patches = patches.view(batch, in_channels, k * k, -1)
    out = torch.einsum('boctl,bctl->bol', filters, patches)
    if layer.bias is not None:
        out = out + layer.bias[:, None]
    return out.view(batch, -1, out_h, out_w)


def acda_output(layer: ACDA, x: torch.Tensor, formulation: str):
    """The layer's output by its eager formulation (``forward``) or by the
    shift-and-accumulate one that ``forward`` uses under torch.compile."""
    if formulation == 'depthwise':
        return layer(x)
    coeffs = layer.atom_generator(x, layer.kernel_size, layer.stride,
                                  layer.padding, layer.dilation)
    return acda_conv2d_taps(x, coeffs, layer.fb_bases, layer.weight,
                            layer.bias, layer.stride, layer.padding,
                            layer.dilation, layer.groups,
                            taps=layer.nonzero_taps)


FORMULATIONS = pytest.mark.parametrize('formulation', ['depthwise', 'taps'])


@FORMULATIONS
@pytest.mark.parametrize('kwargs,size', [
    (dict(kernel_size=7, padding=3), (13, 11)),
    (dict(kernel_size=7, padding=3, stride=2), (13, 10)),
    (dict(kernel_size=5, padding=1, stride=(2, 1)), (9, 12)),
    (dict(kernel_size=5, padding=0, dilation=2, groups=2), (15, 14)),
    (dict(kernel_size=3, padding=2, bias=False, scales=(3, )), (6, 7)),
    (dict(kernel_size=7, padding=(1, 4), scales=(3, 7), num_atoms=4),
     (12, 9)),
    # 1x1: a per-pixel mixture of num_atoms 1x1 convs.
    (dict(kernel_size=1), (5, 6)),
    (dict(kernel_size=(1, 1), stride=2, groups=2, num_atoms=3), (7, 6)),
    (dict(kernel_size=3, padding='same', dilation=2), (6, 5)),
])
def test_acda_equals_naive_per_pixel_filter(kwargs, size, formulation):
    layer = ACDA(4, 6, **kwargs).double()
    with torch.no_grad():
        layer.bias is not None and layer.bias.normal_()
    x = torch.randn(2, 4, *size, dtype=torch.float64)
    out = acda_output(layer, x, formulation)
    reference = nn.Conv2d(4, 6, **{
        k: v
        for k, v in kwargs.items()
        if k in ('kernel_size', 'stride', 'padding', 'dilation', 'groups')
    })(x.float())
    assert out.shape == reference.shape
    assert torch.allclose(out, naive_acda(layer, x), atol=1e-10, rtol=0)


@pytest.mark.e2e
def test_compiled_layer_matches_eager():
    layer = ACDA(4, 4, 7, padding=3)
    compiled = torch.compile(layer)
    # A second size recompiles with dynamic shapes (e.g. SR validation).
    for size in ((12, 12), (9, 14)):
        x = torch.randn(2, 4, *size, requires_grad=True)
        eager_out = layer(x)
        compiled_out = compiled(x)
        assert torch.allclose(eager_out, compiled_out, atol=1e-4, rtol=1e-4)
        for eager_grad, compiled_grad in zip(
                torch.autograd.grad(eager_out.sum(), [x, layer.weight]),
                torch.autograd.grad(compiled_out.sum(), [x, layer.weight])):
            assert torch.allclose(eager_grad, compiled_grad, atol=1e-4,
                                  rtol=1e-4)


@FORMULATIONS
def test_gradients_match_naive_and_reach_every_parameter(formulation):
    layer = ACDA(3, 5, 5, stride=2, padding=2).double()
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(2, 5, 5, 4, dtype=torch.float64)
    params = [x] + list(layer.parameters())
    fast = torch.autograd.grad(
        (acda_output(layer, x, formulation) * grad_out).sum(), params)
    naive = torch.autograd.grad((naive_acda(layer, x) * grad_out).sum(),
                                params)
    for f, n in zip(fast, naive):
        assert torch.allclose(f, n, atol=1e-10, rtol=0)
        assert f.abs().sum() > 0


def test_translation_equivariance_interior():
    layer = ACDA(3, 4, 7, padding=3).eval()
    x = torch.randn(1, 3, 40, 40)
    shifted = torch.roll(x, shifts=(5, 3), dims=(2, 3))
    out, out_shifted = layer(x), layer(shifted)
    # Away from the borders (generator + filter reach: 1 + 3 + 3 pixels).
    margin = 8
    assert torch.allclose(
        torch.roll(out, shifts=(5, 3), dims=(2, 3))[..., margin:-margin,
                                                     margin:-margin],
        out_shifted[..., margin:-margin, margin:-margin],
        atol=1e-5)


def test_channels_last_input_gives_channels_last_output():
    layer = ACDA(4, 4, 3, padding=1)
    x = torch.randn(2, 4, 8, 8)
    out = layer(x)
    out_cl = layer(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous()
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, out_cl, atol=1e-5, rtol=1e-5)


def test_taps_skip_exactly_the_corners_where_every_basis_is_zero():
    layer = ACDA(2, 2, 7)
    # The 7x7 disc: 37 taps; the 12 outside it are zero in all 18 bases.
    assert len(layer.nonzero_taps) == 37
    corners = set(range(49)) - set(layer.nonzero_taps)
    assert {0, 1, 5, 6, 7, 13, 35, 41, 42, 43, 47, 48} == corners


def test_bases_are_fixed_buffers_not_in_state_dict():
    layer = ACDA(4, 4, 7)
    assert [b.shape[-1] for b in layer.fb_bases] == [3, 5, 7]
    assert all(not b.requires_grad for b in layer.fb_bases)
    assert not any('fb_bases' in k for k in layer.state_dict())
    assert not any('fb_bases' in n for n, _ in layer.named_parameters())


def test_default_scales_follow_kernel_size():
    assert ACDA(4, 4, 5).scales == (3, 5)
    assert ACDA(4, 4, 3).scales == (3, )
    one = ACDA(4, 4, 1)
    assert one.scales == (1, ) and one.fb_bases[0].tolist() == [[[1.0]]]
    assert one.atom_generator.predict.out_channels == 6
    generator_out = ACDA(4, 4, 7).atom_generator.predict.out_channels
    assert generator_out == 6 * 18


@pytest.mark.parametrize('kwargs,match', [
    (dict(kernel_size=4), 'kernel_size'),
    (dict(kernel_size=(1, 3)), 'kernel_size 1 or an odd square size'),
    (dict(kernel_size=(3, 5)), 'disc'),
    (dict(kernel_size=1, scales=(3, )), 'scales'),
    (dict(kernel_size=7, scales=(3, 9)), 'scales'),
    (dict(kernel_size=7, scales=(3, 4, 7)), 'scales'),
    (dict(kernel_size=7, scales=(3, 5)), 'scales'),
    (dict(kernel_size=7, num_atoms=0), 'num_atoms'),
    (dict(kernel_size=7, num_bases=40), 'num_bases'),
    (dict(kernel_size=7, groups=3), 'groups'),
    (dict(kernel_size=7, padding='same', stride=2), 'padding'),
    (dict(kernel_size=7, padding_mode='mirror'), 'padding_mode'),
    (dict(kernel_size=7, stride=0), 'stride'),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ACDA(4, 4, **kwargs)


@pytest.mark.parametrize('padding_mode', ['reflect', 'replicate',
                                          'circular'])
def test_padding_mode_pads_the_input_as_conv2d(padding_mode):
    """As ``nn.Conv2d``: the input padded in that mode, then an unpadded
    conv; ``'same'`` is the padding that keeps the size."""
    layer = ACDA(4, 6, 5, padding='same', padding_mode=padding_mode).double()
    unpadded = ACDA(4, 6, 5).double()
    unpadded.load_state_dict(layer.state_dict())
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64)
    expected = unpadded(F.pad(x, [2, 2, 2, 2], mode=padding_mode))
    assert torch.equal(layer(x), expected)


def test_unbatched_input_and_wrong_channels_as_conv2d():
    layer = ACDA(4, 6, 3, padding=1).eval()
    x = torch.randn(4, 7, 5)
    assert torch.allclose(layer(x), layer(x[None])[0], atol=1e-6)
    with pytest.raises(RuntimeError, match='in_channels=4 got an input '
                       'with 3 channels'):
        layer(torch.randn(1, 3, 7, 5))


def test_autocast_bf16_on_cpu_is_finite_and_trains():
    layer = ACDA(8, 8, 5, padding=2)
    x = torch.randn(2, 8, 12, 12)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    for name, param in layer.named_parameters():
        assert param.grad.dtype == torch.float32, name
        assert torch.isfinite(param.grad).all(), name


def test_eval_forward_is_deterministic():
    layer = ACDA(4, 4, 7, padding=3, generator_cfg=dict(
        norm_cfg=dict(type='BN'))).eval()
    x = torch.randn(2, 4, 10, 10)
    assert torch.equal(layer(x), layer(x))


def test_public_generator_layout_is_expressible():
    layer = ACDA(256, 256, 7, stride=2, padding=3, generator_cfg=dict(
        reduce_kernel_size=3, norm_cfg=dict(type='BN'),
        act_cfg=dict(type='Tanh'), out_act_cfg=dict(type='Tanh'),
        strided_reduce=True))
    generator = layer.atom_generator
    assert generator.reduce[0].kernel_size == (3, 3)
    assert generator.strided_reduce
    assert isinstance(generator.out_act, nn.Tanh)
    out = layer(torch.randn(1, 256, 9, 9))
    assert out.shape == (1, 256, 5, 5)


@pytest.mark.parametrize('generator_cfg, finite', [
    (None, True),
    (dict(out_act_cfg=None), False),
], ids=['default Tanh coefficients', 'unbounded coefficients'])
def test_deep_eval_stack_overflows_only_with_unbounded_coefficients(
        generator_cfg, finite):
    """Unbounded, the coefficients make ACDA quadratic in its input: eight
    of them with BatchNorms whose statistics have not adapted (eval right
    after init, as at a first validation) overflow; the default does not."""
    torch.manual_seed(0)
    net = nn.Sequential(*[
        module for _ in range(8)
        for module in (ACDA(16, 16, 3, padding=1, bias=False,
                            generator_cfg=generator_cfg),
                       nn.BatchNorm2d(16), nn.ReLU())
    ]).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 16, 16, 16))
    assert bool(torch.isfinite(out).all()) == finite
