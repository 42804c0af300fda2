import pytest
import torch
import torch.nn as nn
from mmengine.registry import MODELS
from pafu_selection import force_kernel

from pafu_acda_mm.engine import (AdaptivityRecorder,
                                 convert_single_kernel_pafus,
                                 count_pafu_selections, pafu_to_conv2d,
                                 single_kernel_units)
from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.toy import PAFUDenseRegressor


@pytest.mark.parametrize('kwargs, crop', [
    (dict(kernel_size=3, padding=1), False),
    (dict(kernel_size=5, kernel_sizes=(3, 5), padding=2, stride=2,
          groups=2), True),
    (dict(kernel_size=7, kernel_sizes=(3, 7), padding=1, dilation=2,
          bias=False), False),
    (dict(kernel_size=(2, 3), padding='same', padding_mode='reflect'),
     False),
], ids=['single-size', 'mixed-cropped', 'mixed-kept-border',
        'rectangular-same-reflect'])
def test_pafu_to_conv2d_equals_the_unit_where_it_picks_that_kernel(
        kwargs, crop):
    pafu = PAFU(4, 6, num_kernels=4, **kwargs).eval()
    x = torch.randn(2, 4, 13, 12)
    for kernel in range(4):
        force_kernel(pafu, kernel)
        conv = pafu_to_conv2d(pafu, kernel)
        assert type(conv) is nn.Conv2d
        small = kernel < 2 and pafu.kernel_sizes is not None
        assert conv.kernel_size == ((pafu.kernel_sizes[0], ) * 2
                                    if small and crop else pafu.kernel_size)
        with torch.no_grad():
            assert torch.allclose(conv(x), pafu(x), atol=1e-5)
    with pytest.raises(ValueError, match='kernel must be in'):
        pafu_to_conv2d(pafu, 4)


def test_calibration_converts_only_units_that_pick_one_kernel():
    model = nn.Sequential(
        PAFU(3, 4, 3, padding=1, num_kernels=4),
        PAFU(4, 4, 3, padding=1, num_kernels=2)).eval()
    force_kernel(model[0], 2)
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad(), AdaptivityRecorder(model) as recorder:
        expected = model(x)
    counts = {
        name: torch.bincount(maps[0].flatten(), minlength=4)
        for name, maps in recorder.pop()[0].items()
    }
    assert int((counts['1'] > 0).sum()) == 2
    units = single_kernel_units(counts)
    assert units == {'0': 2}
    convert_single_kernel_pafus(model, units)
    assert type(model[0]) is nn.Conv2d and isinstance(model[1], PAFU)
    with torch.no_grad():
        assert torch.allclose(model(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match='must name a PAFU'):
        convert_single_kernel_pafus(model, {'0': 0})


def _the_pafu(model):
    return next((name, module) for name, module in model.named_modules()
                if isinstance(module, PAFU))


def test_count_pafu_selections_runs_a_model_on_data_batches():
    model = PAFUDenseRegressor(
        network=dict(type='SingleLayer',
                     conv_cfg=dict(type='PAFU', num_kernels=2),
                     kernel_size=3)).eval()
    name, pafu = _the_pafu(model)
    force_kernel(pafu, 1)
    batches = [
        dict(inputs=torch.rand(2, 3, 8, 8), target=torch.rand(2, 3, 8, 8))
        for _ in range(3)
    ]
    counts = count_pafu_selections(model, batches, num_batches=2)
    assert counts[name].tolist() == [0, 2 * 2 * 8 * 8]


def test_deployed_model_config_builds_the_converted_architecture():
    model_cfg = dict(type='PAFUDenseRegressor',
                     network=dict(type='SingleLayer',
                                  conv_cfg=dict(type='PAFU', num_kernels=2,
                                                kernel_sizes=(3, 5)),
                                  kernel_size=5))
    name, _ = _the_pafu(MODELS.build(model_cfg))
    model = MODELS.build(
        dict(type='PAFUDeployedModel', model=model_cfg,
             single_kernel_pafus={name: 0}))
    assert isinstance(model, PAFUDenseRegressor)
    conv = model.get_submodule(name)
    assert type(conv) is nn.Conv2d and conv.kernel_size == (3, 3)
    assert conv.padding == (1, 1)


def test_deployed_model_passes_the_runners_data_preprocessor_on():
    model = MODELS.build(
        dict(type='PAFUDeployedModel',
             model=dict(type='mmpretrain.ImageClassifier',
                        backbone=dict(type='mmpretrain.LeNet5')),
             single_kernel_pafus={},
             data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor',
                                    mean=[1.0], std=[2.0])))
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'
