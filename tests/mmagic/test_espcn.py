import pytest
import torch

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.mmagic import ESPCNNet

PAFU_OUT = dict(type='PAFU', num_kernels=16)


@pytest.mark.parametrize('out_conv_cfg', [None, PAFU_OUT])
@pytest.mark.parametrize('scale', [2, 3, 4])
def test_output_is_scale_times_an_odd_input(scale, out_conv_cfg):
    net = ESPCNNet(upscale_factor=scale, out_conv_cfg=out_conv_cfg)
    assert net(torch.rand(2, 3, 7, 9)).shape == (2, 3, 7 * scale, 9 * scale)


def test_layers_are_shi_et_al_on_rgb():
    net = ESPCNNet(upscale_factor=3)
    assert [(conv.in_channels, conv.out_channels, conv.kernel_size)
            for conv in (net.conv1, net.conv2, net.conv3)] == [
                (3, 64, (5, 5)), (64, 32, (3, 3)), (32, 27, (3, 3))]


def test_output_pixel_layout_is_depth_to_space():
    """Sub-pixel ``(a, b)`` of output channel ``c`` is conv3's map
    ``c * s^2 + a * s + b``."""
    scale = 2
    net = ESPCNNet(upscale_factor=scale)
    x = torch.rand(1, 3, 5, 6)
    maps = net.conv3(torch.tanh(net.conv2(torch.tanh(net.conv1(x)))))
    out = net(x)
    for c in range(3):
        for a in range(scale):
            for b in range(scale):
                torch.testing.assert_close(
                    out[0, c, a::scale, b::scale],
                    maps[0, c * scale**2 + a * scale + b])


def test_pafu_of_identical_kernels_equals_the_plain_net():
    plain = ESPCNNet(upscale_factor=3)
    adaptive = ESPCNNet(upscale_factor=3, out_conv_cfg=PAFU_OUT).eval()
    assert isinstance(adaptive.conv3, PAFU)
    adaptive.conv1.load_state_dict(plain.conv1.state_dict())
    adaptive.conv2.load_state_dict(plain.conv2.state_dict())
    with torch.no_grad():
        adaptive.conv3.weight.copy_(plain.conv3.weight.repeat(16, 1, 1, 1))
        adaptive.conv3.bias.copy_(plain.conv3.bias.repeat(16))
    x = torch.rand(2, 3, 7, 9)
    torch.testing.assert_close(adaptive(x), plain(x))


def test_pafu_selects_on_the_embeddings_and_every_part_learns():
    net = ESPCNNet(upscale_factor=2, out_conv_cfg=PAFU_OUT)
    embeddings = torch.rand(1, 32, 6, 6)
    assert net.conv3.selection_logits(embeddings).shape == (1, 16, 6, 6)
    net(torch.rand(2, 3, 6, 6)).square().mean().backward()
    no_grad = [name for name, p in net.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


@pytest.mark.parametrize('kwargs, message', [
    (dict(channels=(3, 64, 3)), 'channels must have 4 entries'),
    (dict(kernel_sizes=(5, 4, 3)), 'kernel_sizes must be 3 odd positive'),
    (dict(upscale_factor=0), 'upscale_factor must be an int >= 1, got 0'),
    (dict(upscale_factor=2.0), 'upscale_factor must be an int >= 1'),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ESPCNNet(**kwargs)
