"""PAFU and ACDA swapped into the installed model zoos as a user would.

Configs of mmseg, mmpretrain and mmagic are loaded by their ``pkg::`` names
and one conv slot is set the way a config override writes it (a head's or a
backbone's ``conv_cfg``, mmseg ResNet's ``dcn`` slot) to
``dict(type='PAFU', num_kernels=n)`` or ``dict(type='ACDA')``. Each model is
built under its codebase's default scope and initialised as the Runner does,
then trained two steps (``train_step`` with a real SGD ``OptimWrapper``) and
validated (``val_step``) on batches that the config's own packing transforms
made, through the model's own data preprocessor. zoo_swaps.py says how each
config is made test-sized; ``test_zoo_config_without_swap`` runs the same on
the unswapped configs, so that a failure of a swap is the swap's.

Every swap either works or fails when the model is built, with a message
that says what to do (``BUILD_FAILURES``: all of them upstream refusals; no
zoo config reaches a conv that PAFU or ACDA refuse through a conv_cfg slot).
Upstream slots that silently build fewer swapped convs than a user may
expect are pinned down too (DeepLabV3+'s separable convs, ERFNet).
"""
import math
import re

import pytest
import torch
import torch.nn as nn

import pafu_acda_mm  # noqa: F401  registers PAFU and ACDA
from pafu_acda_mm.layers import ACDA, PAFU
from zoo_swaps import (DEEPLABV3PLUS, DEEPLABV3PLUS_R18, ERFNET, GCA,
                       GLOBAL_LOCAL, INCEPTIONV3, MOBILENETV2, PSPNET,
                       RESNET18, RESNET50, UPERNET, adaptive_layers, build,
                       load, nonzero_gradients, swap_backbone, swap_dcn,
                       swap_dcn_and_backbone, swap_decode_head, swap_decoder,
                       swap_dilation_neck, swap_encoder, train_steps,
                       val_step)


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """These small models spend their time in thousands of tiny parallel
    regions: with two threads on a loaded 2-core machine the file ran 8x
    slower than with one (OpenMP barriers waiting on a descheduled thread),
    with one it takes about the same time loaded or not."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pafu(num_kernels):
    return dict(type='PAFU', num_kernels=num_kernels)


ACDA_CFG = dict(type='ACDA')
ALL_LAYERS = [pafu(2), pafu(3), pafu(4), ACDA_CFG]

#: mmseg heads' classifier, a plain 1x1 conv built without conv_cfg.
SEG_CLASSIFIER = r'conv_seg'
#: The ResNetV1c Bottlenecks' 3x3 convs of stages 2-4 (the dcn slot).
DCN_CONVS = r'layer[234]\.\d+\.conv2'


class Slot:
    """Where a user swaps, and what that must swap.

    Args:
        zoo: The zoo config (zoo_swaps.Zoo).
        swap: How the user writes it (a zoo_swaps.swap_* function).
        where (str): The submodule that must hold all swapped layers.
        plain (str, optional): Regex of the names (in ``where``) of the
            convs that stay ``nn.Conv2d``; every other conv there must be
            swapped.
        swapped (str, optional): Regex all swapped layers' names (in
            ``where``) must match.
    """

    def __init__(self, zoo, swap, where, plain=None, swapped=None):
        self.zoo, self.swap, self.where = zoo, swap, where
        self.plain, self.swapped = plain, swapped


# Upstream (mmseg): DepthwiseSeparableASPPHead gives its conv_cfg to the 1x1
# image-pool and dilation-1 ASPP convs, the 3x3 bottleneck and the 1x1 c1
# bottleneck, never to its DepthwiseSeparableConvModules (the dilated ASPP
# branches and both separable bottlenecks), which stay plain without a
# warning; no mmseg head passes conv_cfg to one.
SEP_ASPP_PLAIN = (SEG_CLASSIFIER + r'|(aspp_modules\.[123]|sep_bottleneck\.'
                  r'[01])\.(depthwise|pointwise)_conv\.conv')
SEP_ASPP_SWAPPED = (r'(image_pool\.1|aspp_modules\.0|bottleneck|c1_bottleneck)'
                    r'\.conv')
DCN = dict(where='backbone', plain=r'(?!' + DCN_CONVS + r'$).*',
           swapped=DCN_CONVS)

SLOTS = [
    # mmseg heads: PSPHead (1x1 PPM convs on 1x1 to 6x6 pools, 3x3
    # bottleneck), DepthwiseSeparableASPPHead (see above), UPerHead (1x1
    # laterals, 3x3 FPN convs, PPM, 3x3 bottleneck).
    Slot(PSPNET, swap_decode_head, 'decode_head', SEG_CLASSIFIER),
    Slot(DEEPLABV3PLUS, swap_decode_head, 'decode_head', SEP_ASPP_PLAIN,
         SEP_ASPP_SWAPPED),
    Slot(UPERNET, swap_decode_head, 'decode_head', SEG_CLASSIFIER),
    # mmseg ResNetV1c-50 (deep stem, 1x1 and strided 3x3 convs, 1x1 strided
    # shortcuts; dilated 2/4 with contract_dilation in PSPNet's d8, plain
    # strides in UPerNet's): every conv through conv_cfg, or stages 2-4's
    # 3x3s through the dcn slot.
    Slot(PSPNET, swap_backbone, 'backbone'),
    Slot(UPERNET, swap_backbone, 'backbone'),
    Slot(PSPNET, swap_dcn, **DCN),
    Slot(DEEPLABV3PLUS, swap_dcn, **DCN),
    # mmpretrain backbones through conv_cfg: ResNet-18 (7x7 stem,
    # BasicBlocks), ResNet-50 (Bottlenecks), MobileNetV2 (1x1 expand, 3x3
    # depthwise, 1x1 project, strided depthwise).
    Slot(RESNET18, swap_backbone, 'backbone'),
    Slot(RESNET50, swap_backbone, 'backbone'),
    Slot(MOBILENETV2, swap_backbone, 'backbone'),
    # mmagic GCA matting, spectral norm on every conv: the ResNet-34
    # shortcut encoder (its guidance head and GCA module are built without
    # conv_cfg) and decoder (its upsampling convs are hard-coded Deconv, its
    # last conv has no conv_cfg).
    Slot(GCA, swap_encoder, 'backbone.encoder',
         r'guidance_head\.\d\.conv|gca\..*'),
    Slot(GCA, swap_decoder, 'backbone.decoder', r'conv2\.conv|gca\..*'),
    # mmagic Global&Local inpainting: the dilation neck's 3x3 convs,
    # dilations 2 to 16 (GLEncoder and GLDecoder take no conv_cfg).
    Slot(GLOBAL_LOCAL, swap_dilation_neck, 'generator.dilation_neck'),
]


def _layer_id(layer):
    return layer['type'] + str(layer.get('num_kernels', ''))


CASES = [
    pytest.param(slot, layer,
                 id=f'{slot.zoo.name}-{slot.swap.__name__[5:]}-'
                 f'{_layer_id(layer)}') for slot in SLOTS
    for layer in ALL_LAYERS
]


def _plain_convs(module: nn.Module):
    """Names of the ``nn.Conv2d``s of ``module`` outside PAFU and ACDA
    (whose selector and atom generator are convs of their own)."""
    inside = [name for name, m in module.named_modules()
              if isinstance(m, (PAFU, ACDA))]
    return sorted(
        name for name, m in module.named_modules()
        if isinstance(m, nn.Conv2d) and not any(
            name.startswith(prefix + '.') for prefix in inside))


GEOMETRY = ('in_channels', 'out_channels', 'kernel_size', 'stride',
            'padding', 'dilation', 'groups', 'padding_mode')


def _geometry(conv: nn.Module):
    return tuple(getattr(conv, name) for name in GEOMETRY) + (
        conv.bias is None, )


NON_FINITE = 'non-finite predictions (eval mode, after two train steps)'


def _check_train_and_val(zoo, cfg, model, swapped=None):
    data = zoo.batch(cfg, zoo.size, zoo.train_batch, 'train')
    with nonzero_gradients(swapped or {}) as trained:
        for log_vars in train_steps(model, data):
            assert log_vars and all(
                math.isfinite(float(torch.as_tensor(v).detach()))
                for v in log_vars.values()), log_vars
    if swapped:
        params = {f'{name}.{p_name}': p for name, layer in swapped.items()
                  for p_name, p in layer.named_parameters()}
        assert all(torch.isfinite(p).all() for p in params.values())
        untrained = sorted(set(params) - trained)
        assert not untrained, f'no gradient reached: {untrained}'

    # GCA's alphas reach the predictions cast to uint8 (NaN as 0): its
    # backbone's raw output is checked instead.
    raw = []
    hook = (model.backbone.register_forward_hook(
        lambda module, args, out: raw.append(out)) if zoo is GCA else None)
    predictions = val_step(model,
                           zoo.batch(cfg, zoo.size, zoo.val_batch, 'val'))
    if hook is not None:
        hook.remove()
        assert raw and all(torch.isfinite(out).all()
                           for out in raw), NON_FINITE
    assert len(predictions) == zoo.val_batch
    size = (zoo.size, zoo.size)
    for prediction in predictions:
        if zoo.scope == 'mmseg':
            assert type(prediction).__name__ == 'SegDataSample'
            assert prediction.pred_sem_seg.data.shape == (1, *size)
            assert prediction.seg_logits.data.shape == (4, *size)
            assert torch.isfinite(
                prediction.seg_logits.data).all(), NON_FINITE
        elif zoo.scope == 'mmpretrain':
            assert type(prediction).__name__ == 'DataSample'
            assert prediction.pred_score.shape == (10, )
            assert torch.isfinite(prediction.pred_score).all(), NON_FINITE
            assert prediction.pred_label.shape == (1, )
        elif zoo is GCA:
            alpha = prediction.output.pred_alpha
            assert alpha.shape == size and alpha.dtype == torch.uint8
        else:  # inpainting
            image = prediction.output.pred_img
            assert image.shape == (3, *size)
            assert torch.isfinite(image).all(), NON_FINITE


@pytest.mark.parametrize('zoo', [
    PSPNET, DEEPLABV3PLUS, UPERNET, RESNET18, RESNET50, MOBILENETV2, GCA,
    GLOBAL_LOCAL
], ids=lambda zoo: zoo.name)
def test_zoo_config_without_swap(zoo):
    """The test-sized upstream models train and validate as the swapped ones
    must (the baseline of the swaps)."""
    cfg = load(zoo, None, None)
    model = build(zoo, cfg)
    assert not adaptive_layers(model)
    _check_train_and_val(zoo, cfg, model)


@pytest.mark.parametrize('slot, layer', CASES)
def test_zoo_swap_trains_and_validates(slot, layer):
    kind = PAFU if layer['type'] == 'PAFU' else ACDA
    cfg = load(slot.zoo, slot.swap, layer)
    model = build(slot.zoo, cfg)

    # The swap happened where it was asked for, everywhere the slot builds
    # a conv, and nowhere else ...
    where = model.get_submodule(slot.where)
    swapped = adaptive_layers(where)
    assert swapped, f'no PAFU/ACDA in {slot.where}'
    assert all(isinstance(m, kind) for m in swapped.values())
    assert len(adaptive_layers(model)) == len(swapped)
    if kind is PAFU:
        assert {m.num_kernels for m in swapped.values()} == {
            layer['num_kernels']}
    if slot.swapped:
        assert all(re.fullmatch(slot.swapped, n) for n in swapped), list(
            swapped)
    left = [n for n in _plain_convs(where)
            if not (slot.plain and re.fullmatch(slot.plain, n))]
    assert not left, f'convs of {slot.where} left plain: {left}'
    # ... each with the geometry of the conv it replaces.
    upstream = build(slot.zoo, load(slot.zoo, None, None)).get_submodule(
        slot.where)
    for name, layer_module in swapped.items():
        conv = upstream.get_submodule(name)
        assert isinstance(conv, nn.Conv2d), name
        assert _geometry(layer_module) == _geometry(conv), name

    _check_train_and_val(slot.zoo, cfg, model, swapped)


#: Swaps a user can write that fail when the model is built. No zoo config
#: reaches a conv that PAFU or ACDA refuse (ACDA: rectangular or even
#: kernels) through a conv_cfg slot: the zoo's only rectangular convs are
#: InceptionV3's and ERFNet's, whose backbones refuse or ignore conv_cfg.
BUILD_FAILURES = [
    # Upstream (mmpretrain): InceptionV3 builds its 1x7/7x1/1x3/3x1 convs
    # with a conv_cfg but takes none itself.
    pytest.param(INCEPTIONV3, swap_backbone, pafu(2), TypeError,
                 "unexpected keyword argument 'conv_cfg'",
                 id='inceptionv3-backbone-PAFU2'),
    # Upstream (mmseg): the dcn slot exists for Bottleneck ResNets only
    # (ResNet-50 and deeper); BasicBlock asserts.
    pytest.param(DEEPLABV3PLUS_R18, swap_dcn, pafu(4), AssertionError,
                 'Not implemented yet', id='deeplabv3plus_r18-dcn-PAFU4'),
    pytest.param(DEEPLABV3PLUS_R18, swap_dcn, ACDA_CFG, AssertionError,
                 'Not implemented yet', id='deeplabv3plus_r18-dcn-ACDA'),
    # Upstream (mmseg): dcn and conv_cfg exclude each other.
    pytest.param(PSPNET, swap_dcn_and_backbone, pafu(4), AssertionError,
                 'conv_cfg must be None for DCN',
                 id='pspnet_r50-dcn_and_backbone-PAFU4'),
]


@pytest.mark.parametrize('zoo, swap, layer, error, message', BUILD_FAILURES)
def test_unsupported_zoo_swap_fails_at_build_time(zoo, swap, layer, error,
                                                  message):
    cfg = load(zoo, swap, layer)
    with pytest.raises(error, match=message):
        build(zoo, cfg)


@pytest.mark.parametrize('layer', [pafu(2), ACDA_CFG], ids=_layer_id)
def test_upstream_conv_cfg_that_is_ignored(layer):
    """Upstream (mmseg): ERFNet takes ``conv_cfg`` but builds its blocks
    (3x1/1x3 convs, 3x3 downsamplers) without it, so the swap is silently
    a no-op. Should mmseg pass it on, its 3x1 and 1x3 convs become PAFU's
    rectangular kernels, and ACDA must refuse them at build time with a
    ValueError naming ``kernel_size``."""
    model = build(ERFNET, load(ERFNET, swap_backbone, layer))
    assert model.backbone.conv_cfg == layer
    assert not adaptive_layers(model)
