import pytest
import torch
import torch.nn as nn
from mmseg.models.decode_heads import PSPHead

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.mmseg import PAFUPSPHead

HEAD = dict(in_channels=32, channels=16, num_classes=5, in_index=-1,
            norm_cfg=dict(type='BN'))


def test_bottleneck_over_the_pyramid_features_is_a_pafu():
    head = PAFUPSPHead(**HEAD)
    conv = head.bottleneck.conv
    assert isinstance(conv, PAFU) and conv.num_kernels == 8
    assert (conv.in_channels, conv.out_channels) == (32 + 4 * 16, 16)
    assert conv.kernel_size == (3, 3) and conv.padding == (1, 1)
    assert conv.bias is None  # followed by BN, as upstream
    # the pyramid's own 1x1 convs stay plain
    assert sum(isinstance(m, PAFU) for m in head.modules()) == 1
    assert all(type(stage[1].conv) is nn.Conv2d for stage in head.psp_modules)


@pytest.mark.parametrize('size', [(6, 6), (9, 7)])
def test_logits_shape_is_upstreams(size):
    head = PAFUPSPHead(**HEAD, pafu_cfg=dict(type='PAFU', num_kernels=4))
    assert head.bottleneck.conv.num_kernels == 4
    inputs = [torch.randn(2, 32, *size)]
    logits = head(inputs)
    assert logits.shape == (2, 5, *size)
    logits.sum().backward()
    assert head.bottleneck.conv.selector.predict.weight.grad.abs().sum() > 0


def test_state_dict_is_upstreams_plus_the_selector():
    ours = set(PAFUPSPHead(**HEAD).state_dict())
    upstream = set(PSPHead(**HEAD).state_dict())
    assert upstream <= ours
    batch_norm = ('weight', 'bias', 'running_mean', 'running_var',
                  'num_batches_tracked')
    assert {key for key in ours - upstream} == {
        f'bottleneck.conv.selector.{name}'
        for name in ('reduce.0.weight', 'predict.weight',
                     *(f'{norm}.{key}' for norm in ('reduce.1', 'predict_norm')
                       for key in batch_norm))
    }
