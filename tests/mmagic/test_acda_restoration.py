"""The ACDA restoration network: exact output sizes, the plain-conv baseline
with the same layout, gradients, training, and its start as bicubic
upsampling plus identity bottlenecks."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from restoration_datasets import downsample, smooth_image

from pafu_acda_mm.layers import ACDA
from pafu_acda_mm.mmagic import ACDARestorationNet

SMALL = dict(mid_channels=16, bottleneck_channels=8, num_blocks=2)
CONV_CFGS = pytest.mark.parametrize(
    'conv_cfg', [dict(type='ACDA'), None], ids=['acda', 'plain'])


@pytest.mark.parametrize('scale', [1, 2, 3, 4])
@CONV_CFGS
def test_output_is_scale_times_an_odd_input(scale, conv_cfg):
    # 13 * scale and 11 * scale are not multiples of the unshuffle factor 4:
    # the net pads and crops.
    net = ACDARestorationNet(scale=scale, conv_cfg=conv_cfg, **SMALL)
    out = net(torch.rand(2, 3, 13, 11))
    assert out.shape == (2, 3, 13 * scale, 11 * scale)


def test_padding_is_cropped_off():
    # Replicate padding reaches the output only through its crop: an input
    # that is itself the top-left crop of a replicate-padded image gives the
    # top-left crop of that image's output.
    net = ACDARestorationNet(**SMALL)
    with torch.no_grad():
        net.body[0].expand.weight.normal_(std=0.1)
        x = torch.rand(1, 3, 13, 11)
        padded = F.pad(x, [0, 1, 0, 3], mode='replicate')
        assert torch.allclose(net(x), net(padded)[..., :13, :11], atol=1e-6)


def test_plain_baseline_has_the_same_layout():
    acda = ACDARestorationNet()
    plain = ACDARestorationNet(conv_cfg=None)
    acda_modules = dict(acda.named_modules())
    plain_modules = dict(plain.named_modules())
    adaptive = {f'body.{i}.adaptive_conv.conv' for i in range(8)}
    for name in adaptive:
        assert isinstance(acda_modules[name], ACDA)
        assert type(plain_modules[name]) is nn.Conv2d
        for attr in ('in_channels', 'out_channels', 'kernel_size',
                     'stride', 'padding'):
            assert (getattr(acda_modules[name], attr) == getattr(
                plain_modules[name], attr))
        assert acda_modules[name].kernel_size == (7, 7)
    # Everything outside the adaptive convs is identical.
    outside = {
        key: value.shape
        for key, value in plain.state_dict().items()
        if not key.startswith(tuple(adaptive))
    }
    assert outside == {
        key: value.shape
        for key, value in acda.state_dict().items()
        if not key.startswith(tuple(adaptive))
    }
    # The counts the README lists.
    assert sum(p.numel() for p in acda.parameters()) == 1_267_472
    assert sum(p.numel() for p in plain.parameters()) == 2_144_688


@pytest.mark.parametrize('scale', [1, 3])
def test_starts_as_bicubic_plus_identity_bottlenecks(scale):
    torch.manual_seed(1)
    net = ACDARestorationNet(scale=scale, **SMALL)
    x = torch.rand(1, 3, 9, 10)
    without_body = ACDARestorationNet(scale=scale, **dict(SMALL, num_blocks=1))
    without_body.head, without_body.tail = net.head, net.tail
    without_body.body = nn.Identity()
    with torch.no_grad():
        assert torch.equal(net(x), without_body(x))
        # With a zero output conv, the net is bicubic upsampling exactly.
        nn.init.zeros_(net.tail[-1].weight)
        nn.init.zeros_(net.tail[-1].bias)
        upsampled = (
            F.interpolate(x, scale_factor=scale, mode='bicubic')
            if scale > 1 else x)
        assert torch.equal(net(x), upsampled)


@CONV_CFGS
def test_gradient_reaches_every_parameter(conv_cfg):
    net = ACDARestorationNet(scale=2, conv_cfg=conv_cfg, **SMALL)
    with torch.no_grad():  # past initialisation: residual branches active
        for block in net.body:
            block.expand.weight.normal_(std=0.1)
    net(torch.rand(2, 3, 9, 7)).square().mean().backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@CONV_CFGS
def test_short_training_lowers_the_mse(conv_cfg):
    hr = smooth_image(np.random.default_rng(0), 32, 32)

    def to_tensor(image):
        return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255

    lr, gt = to_tensor(downsample(hr, 2)), to_tensor(hr)
    net = ACDARestorationNet(scale=2, conv_cfg=conv_cfg, **SMALL)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = F.mse_loss(net(lr), gt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize('name, value', [('scale', 0), ('scale', 1.5),
                                         ('num_blocks', 0),
                                         ('unshuffle_factor', True),
                                         ('kernel_size', 4)])
def test_bad_arguments_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        ACDARestorationNet(**{name: value})
