"""PAFU-SRCNN and linear PAFU super-resolution nets."""
import pytest
import torch
from mmagic.models.editors import SRCNNNet

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.mmagic import LinearPAFUSRNet, PAFUSRCNNNet


def dihedral_transforms():
    """The 8 flips/transposes of ``(..., H, W)`` as (forward, inverse)."""
    for transpose in (False, True):
        for flip_dims in ((), (-1, ), (-2, ), (-2, -1)):

            def forward(t, transpose=transpose, dims=flip_dims):
                t = t.transpose(-2, -1) if transpose else t
                return t.flip(dims) if dims else t

            def inverse(t, transpose=transpose, dims=flip_dims):
                t = t.flip(dims) if dims else t
                return t.transpose(-2, -1) if transpose else t

            yield forward, inverse


def nearest_upsampling_(net: LinearPAFUSRNet) -> LinearPAFUSRNet:
    """Make every kernel copy its pixel to its ``s x s`` output block."""
    pafu, scale = net.pafu, net.upscale_factor
    centre = pafu.kernel_size[0] // 2
    with torch.no_grad():
        weight = pafu.weight.view(pafu.num_kernels, -1, *pafu.weight.shape[1:])
        weight.zero_()
        for channel in range(pafu.in_channels):
            weight[:, channel * scale**2:(channel + 1) * scale**2, channel,
                   centre, centre] = 1
    return net


@pytest.mark.parametrize('scale', [2, 3, 4])
@pytest.mark.parametrize('build', [
    lambda s: PAFUSRCNNNet(upscale_factor=s),
    lambda s: LinearPAFUSRNet(upscale_factor=s),
    lambda s: LinearPAFUSRNet(upscale_factor=s, kernel_sizes=(5, 7)),
    lambda s: LinearPAFUSRNet(upscale_factor=s, self_ensemble=True).eval(),
], ids=['pafu-srcnn', 'linear-5x5', 'linear-5x5&7x7', 'linear-5x5+'])
def test_output_is_scale_times_an_odd_input(build, scale):
    assert build(scale)(torch.rand(2, 3, 7, 9)).shape == (2, 3, 7 * scale,
                                                         9 * scale)


def test_pafu_srcnn_is_upstream_srcnn_with_a_pafu_output_conv():
    plain = SRCNNNet(upscale_factor=3)
    adaptive = PAFUSRCNNNet(upscale_factor=3).eval()
    conv3 = adaptive.conv3
    assert isinstance(conv3, PAFU) and conv3.num_kernels == 16
    assert (conv3.in_channels, conv3.out_channels, conv3.kernel_size,
            conv3.padding) == (32, 3, (5, 5), (2, 2))
    state = plain.state_dict()
    state['conv3.weight'] = state['conv3.weight'].repeat(16, 1, 1, 1)
    state['conv3.bias'] = state['conv3.bias'].repeat(16)
    adaptive.load_state_dict(state, strict=False)  # the selector stays
    x = torch.rand(1, 3, 7, 9)
    torch.testing.assert_close(adaptive(x), plain(x))


def test_pafu_srcnn_output_conv_is_configurable():
    net = PAFUSRCNNNet(out_conv_cfg=dict(type='PAFU', num_kernels=4, tau=0.5))
    assert (net.conv3.num_kernels, net.conv3.tau) == (4, 0.5)


@pytest.mark.parametrize('kernel_sizes, padding, sizes', [((5, ), 2, None),
                                                          ((5, 7), 3, (5, 7))])
def test_linear_net_is_one_bias_free_pafu_to_3s2_maps(kernel_sizes, padding,
                                                      sizes):
    net = LinearPAFUSRNet(upscale_factor=3, kernel_sizes=kernel_sizes)
    assert isinstance(net.pafu, PAFU) and net.pafu.bias is None
    assert (net.pafu.in_channels, net.pafu.out_channels, net.pafu.padding,
            net.pafu.kernel_sizes, net.pafu.num_kernels) == (3, 27, (padding,
                                                                   padding),
                                                             sizes, 16)


def test_linear_net_with_one_kernel_is_linear_in_the_image():
    net = LinearPAFUSRNet(
        upscale_factor=2, pafu_cfg=dict(type='PAFU', num_kernels=1)).eval()
    x, y = torch.rand(2, 1, 3, 6, 7)
    torch.testing.assert_close(net(2 * x - 3 * y), 2 * net(x) - 3 * net(y))


def test_self_ensemble_is_the_mean_of_the_8_transformed_predictions():
    net = LinearPAFUSRNet(upscale_factor=3).eval()
    x = torch.rand(2, 3, 6, 7)
    expected = torch.stack([
        inverse(net.upscale(forward(x)))
        for forward, inverse in dihedral_transforms()
    ]).mean(0)
    single = net(x)
    net.self_ensemble = True
    ensembled = net(x)
    torch.testing.assert_close(ensembled, expected)
    assert not torch.allclose(ensembled, single)
    # whatever the net, its self-ensemble is equivariant
    for forward, inverse in dihedral_transforms():
        torch.testing.assert_close(inverse(net(forward(x))), ensembled)


def test_self_ensemble_of_an_equivariant_net_is_the_net():
    net = nearest_upsampling_(LinearPAFUSRNet(upscale_factor=2)).eval()
    x = torch.rand(1, 3, 5, 6)
    single = net(x)
    torch.testing.assert_close(
        single, x.repeat_interleave(2, -2).repeat_interleave(2, -1))
    net.self_ensemble = True
    # exact up to the rounding of the mean of 8 equal values
    torch.testing.assert_close(net(x), single, rtol=4e-7, atol=0)


def test_self_ensemble_is_for_eval_only():
    net = LinearPAFUSRNet(upscale_factor=2, self_ensemble=True).train()
    x = torch.rand(1, 3, 5, 6)
    torch.manual_seed(1)
    trained = net(x)
    torch.manual_seed(1)
    torch.testing.assert_close(trained, net.upscale(x))


@pytest.mark.parametrize('kwargs, message', [
    (dict(upscale_factor=1.5), 'upscale_factor must be an int >= 1'),
    (dict(self_ensemble='yes'), 'self_ensemble must be a bool'),
    (dict(kernel_sizes=(4, )), 'kernel_sizes must be odd positive ints'),
])
def test_bad_linear_net_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LinearPAFUSRNet(**kwargs)
