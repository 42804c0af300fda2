"""A model of the installed zoos with PAFU or ACDA swapped in loads a plain
checkpoint of the upstream model through the codebase's own path and starts
as that model: mmpretrain's ResNet through ``init_cfg=dict(type=
'Pretrained')``, mmseg's PSPNet (PAFU-PPM head, swapped backbone) through
``pretrained=`` and ``load_checkpoint``, PAFU-ESPCN through mmengine's
``load_checkpoint`` (what ``load_from`` calls); and fine-tunes from there."""
import copy
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conv_warm_start_checks import pafu_step0_bound, summary_lines
from mmagic.structures import DataSample
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import load_checkpoint
from test_upstream_zoo_swaps import _one_thread  # noqa: F401  a fixture
from zoo_swaps import (PSPNET, RESNET18, adaptive_layers, cls_batch, load,
                       seg_batch, swap_backbone)

import pafu_acda_mm.mmseg  # noqa: F401  registers PAFUPSPHead
from pafu_acda_mm.engine import build_model_from_config
from pafu_acda_mm.layers import ACDA, PAFU
from pafu_acda_mm.layers.conv_warm_start import acda_params_from_conv

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'pafu_sr'

#: PAFU without the perturbation: the model must then be the plain one.
EXACT_PAFU = dict(type='PAFU', num_kernels=3, warm_start_eps=0.)


def _build(zoo, cfg):
    """``MODELS.build`` and ``init_weights`` as the Runner does (which is
    where ``init_cfg`` and ``pretrained=`` load)."""
    init_default_scope(zoo.scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def _tensor_outputs(model, data):
    """The network's raw outputs (logits) on a packed batch, in eval mode."""
    with torch.no_grad():
        batch = model.data_preprocessor(data, False)
        return model(batch['inputs'], batch['data_samples'], mode='tensor')


def _logged_residuals(line: str) -> dict:
    per_layer = line.split('per layer: ')[1].split(';')[0]
    return {
        name: float(value)
        for name, value in re.findall(r'([\w.]+) ([\d.]+)', per_layer)
    }


def _projected(plain, prefix, layers):
    """``plain`` with every ACDA layer's conv replaced by the conv that ACDA
    computes after the conversion."""
    reference = copy.deepcopy(plain)
    state = reference.state_dict()
    for name, layer in layers.items():
        if isinstance(layer, ACDA):
            key = f'{prefix}{name}.weight'
            state[key] = acda_params_from_conv(state[key], None,
                                               layer.fb_bases,
                                               layer.num_atoms).kernel
    reference.load_state_dict(state)
    return reference.eval()


@pytest.mark.parametrize('layer', [EXACT_PAFU, dict(type='ACDA')],
                         ids=['PAFU', 'ACDA'])
def test_resnet_starts_as_its_pretrained_backbone_through_init_cfg(
        layer, tmp_path):
    plain = _build(RESNET18, load(RESNET18, None, None))
    checkpoint = tmp_path / 'resnet18.pth'
    torch.save(dict(state_dict=plain.state_dict()), checkpoint)
    cfg = load(RESNET18, swap_backbone, layer)
    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint=str(checkpoint),
                                       prefix='backbone.')
    with summary_lines() as lines:
        model = _build(RESNET18, cfg)
    swapped = adaptive_layers(model.backbone)
    (line, ) = lines
    kind = layer['type']
    assert f'into {len(swapped)} adaptive layers ({kind}: ' in line
    assert 'not converted' not in line
    reference = plain
    if kind == 'ACDA':
        residuals = _logged_residuals(line)
        assert set(residuals) == set(swapped)
        assert all(residuals[name] == 0 for name, m in swapped.items()
                   if m.kernel_size == (1, 1))  # exact
        reference = _projected(plain, 'backbone.', swapped)
    data = cls_batch(cfg, RESNET18.size, 2, 'val')
    with torch.no_grad():
        features = model.extract_feat(
            model.data_preprocessor(data, False)['inputs'])
        expected = reference.extract_feat(
            reference.data_preprocessor(data, False)['inputs'])
    torch.testing.assert_close(features, expected, atol=1e-4, rtol=1e-4)


def test_pspnet_with_pafu_ppm_starts_as_the_plain_pspnet(tmp_path):
    """The backbone through mmseg's ``pretrained=``, then the whole model
    (the PAFU-PPM head's bottleneck conv included) through
    ``load_checkpoint``."""
    plain = _build(PSPNET, load(PSPNET, None, None))
    backbone_checkpoint = tmp_path / 'backbone.pth'
    torch.save(plain.backbone.state_dict(), backbone_checkpoint)
    model_checkpoint = tmp_path / 'pspnet.pth'
    torch.save(dict(state_dict=plain.state_dict()), model_checkpoint)
    cfg = load(PSPNET, swap_backbone, EXACT_PAFU)
    cfg.model.decode_head.type = 'PAFUPSPHead'
    cfg.model.decode_head.pafu_cfg = EXACT_PAFU
    cfg.model.pretrained = str(backbone_checkpoint)
    with summary_lines() as lines:
        model = _build(PSPNET, cfg)
        backbone_layers = len(adaptive_layers(model.backbone))
        assert lines == [f'Plain conv parameters converted into '
                         f'{backbone_layers} adaptive layers (PAFU: '
                         f'{backbone_layers})']
        data = seg_batch(cfg, PSPNET.size, 2, 'val')
        inputs = model.data_preprocessor(data, False)['inputs']
        with torch.no_grad():
            torch.testing.assert_close(model.extract_feat(inputs),
                                       plain.extract_feat(inputs),
                                       atol=1e-4, rtol=1e-4)
        load_checkpoint(model, str(model_checkpoint), map_location='cpu')
    assert isinstance(model.decode_head.bottleneck.conv, PAFU)
    assert lines[1] == (f'Plain conv parameters converted into '
                        f'{backbone_layers + 1} adaptive layers (PAFU: '
                        f'{backbone_layers + 1})')
    torch.testing.assert_close(_tensor_outputs(model, data),
                               _tensor_outputs(plain, data), atol=1e-4,
                               rtol=1e-4)


def test_pafu_espcn_fine_tunes_from_a_plain_espcn_checkpoint(tmp_path):
    """The project's ESPCN and PAFU-ESPCN configs (mmagic): the plain
    model's checkpoint through ``load_checkpoint``, PAFU's output within
    the bound of the plain conv's, then fine-tuning lowers the loss."""
    _, plain = build_model_from_config(
        str(CONFIGS / 'espcn_x2_1xb16-300k_div2k.py'))
    checkpoint = tmp_path / 'espcn.pth'
    torch.save(dict(state_dict=plain.state_dict()), checkpoint)
    _, model = build_model_from_config(
        str(CONFIGS / 'pafu-espcn_x2_1xb16-300k_div2k.py'))
    with summary_lines() as lines:
        load_checkpoint(model, str(checkpoint), map_location='cpu')
    assert lines == [
        'Plain conv parameters converted into 1 adaptive layers (PAFU: 1)'
    ]
    generator, conv = model.generator, plain.generator.conv3
    embeddings = torch.tanh(
        generator.conv2(torch.tanh(generator.conv1(torch.rand(2, 3, 9, 9)))))
    with torch.no_grad():
        change = (generator.conv3(embeddings) - conv(embeddings)).abs()
    assert bool((change <= pafu_step0_bound(generator.conv3, conv.weight,
                                            embeddings) + 1e-6).all())

    gt = torch.rand(2, 3, 24, 24) * 255
    data = dict(inputs=list(F.avg_pool2d(gt, 2)),
                data_samples=[DataSample(gt_img=img) for img in gt])
    optim_wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), 1e-3))
    model.train()
    losses = [
        float(model.train_step(data, optim_wrapper)['loss'])
        for _ in range(8)
    ]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert losses[-1] < losses[0]
