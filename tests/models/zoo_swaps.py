"""Helpers of test_upstream_zoo_swaps.py: configs of the installed mmseg,
mmpretrain and mmagic model zoos, loaded by their ``pkg::`` names, with PAFU
or ACDA swapped in the way a user writes it in a config, shrunk to CPU test
size, built and initialised as mmengine's Runner does, and fed batches that
the config's own packing transforms made.

Shrinking never changes what the swapped convs are (kernel sizes, strides,
paddings, dilations, groups, bias, the modules around them): pretrained
weights are off, SyncBN is BN, inputs are small (but large enough that no BN
normalises fewer than 4 values), there are fewer classes, narrower heads,
backbones 8x narrower (ResNets) or 2x (MobileNetV2), GCA one block per
stage, and residual branches do not start at zero (``zero_init_residual``).
"""
import contextlib
import copy
import functools
import logging
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import MODELS, TRANSFORMS, init_default_scope

from pafu_acda_mm.layers import ACDA, PAFU


# -- Swaps, as a user writes them in a config --------------------------------


def swap_decode_head(cfg: Config, layer: dict) -> None:
    cfg.model.decode_head.conv_cfg = layer


def swap_backbone(cfg: Config, layer: dict) -> None:
    cfg.model.backbone.conv_cfg = layer


def swap_dcn(cfg: Config, layer: dict) -> None:
    cfg.model.backbone.dcn = layer
    cfg.model.backbone.stage_with_dcn = (False, True, True, True)


def swap_dcn_and_backbone(cfg: Config, layer: dict) -> None:
    swap_backbone(cfg, layer)
    swap_dcn(cfg, layer)


def swap_encoder(cfg: Config, layer: dict) -> None:
    cfg.model.backbone.encoder.conv_cfg = layer


def swap_decoder(cfg: Config, layer: dict) -> None:
    cfg.model.backbone.decoder.conv_cfg = layer


def swap_dilation_neck(cfg: Config, layer: dict) -> None:
    cfg.model.encdec.dilation_neck.conv_cfg = layer


# -- Shrinking to CPU test size ----------------------------------------------


def _sync_bn_to_bn(node):
    """Every ``SyncBN`` of a config tree becomes ``BN`` (no process group on
    a single CPU process)."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _sync_bn_to_bn(value)


def _narrow(value, factor: int):
    return ([v // factor for v in value] if isinstance(value, (list, tuple))
            else value // factor)


#: Backbone widths (stem and base channels) are divided by this; the heads'
#: input widths follow.
WIDTH_DIVISOR = 8


def shrink_mmseg(cfg: Config, size: int) -> None:
    model = cfg.model
    model.pretrained = None
    model.backbone.init_cfg = None
    model.data_preprocessor.size = (size, size)
    heads = [model.decode_head] + ([model.auxiliary_head]
                                   if model.get('auxiliary_head') else [])
    if model.backbone.type.startswith('ResNet'):
        model.backbone.stem_channels = 64 // WIDTH_DIVISOR
        model.backbone.base_channels = 64 // WIDTH_DIVISOR
        # An init choice, not the architecture: a zero-initialised last norm
        # of each residual branch leaves the branch's convs without gradient
        # at the first step and with ~1e-12 updates at the second.
        model.backbone.zero_init_residual = False
        for head in heads:
            head.in_channels = _narrow(head.in_channels, WIDTH_DIVISOR)
        if 'c1_in_channels' in model.decode_head:  # DeepLabV3+'s low level
            model.decode_head.c1_in_channels = _narrow(
                model.decode_head.c1_in_channels, WIDTH_DIVISOR)
            model.decode_head.c1_channels = 8
    for head in heads:
        head.num_classes = 4
        head.channels = 16


def shrink_mmpretrain(cfg: Config, size: int) -> None:
    model = cfg.model
    model.backbone.init_cfg = None
    model.pop('pretrained', None)
    if model.backbone.type == 'ResNet':
        model.backbone.stem_channels = 64 // WIDTH_DIVISOR
        model.backbone.base_channels = 64 // WIDTH_DIVISOR
        model.head.in_channels //= WIDTH_DIVISOR
        model.backbone.zero_init_residual = False  # as in shrink_mmseg
    if model.backbone.type == 'MobileNetV2':
        model.backbone.widen_factor = 0.5  # its last conv keeps 1280
    if model.backbone.get('num_classes'):  # InceptionV3's own classifier
        model.backbone.num_classes = 10
    else:
        model.head.num_classes = 10
    model.head.topk = (1, )


def shrink_mmagic_matting(cfg: Config, size: int) -> None:
    model = cfg.model
    model.backbone.encoder.init_cfg = None
    model.init_cfg = None
    # One block per stage (ResNet-34's 3/4/4/2 and the decoder's 2/3/3/2):
    # every kind of conv is still there, widths are fixed by mmagic.
    model.backbone.encoder.layers = [1, 1, 1, 1]
    model.backbone.decoder.layers = [1, 1, 1, 1]


def shrink_mmagic_inpainting(cfg: Config, size: int) -> None:
    # The local discriminator's crop; the global one is not run before
    # ``iter_tc`` (the first 40k iterations train the generator alone).
    cfg.model.train_cfg.local_size = (size // 2, size // 2)


# -- Batches packed by the codebase's own transform --------------------------


def _packer(cfg: Config, pipeline: str):
    """The zoo config's own packing transform (the last of its pipeline)."""
    loader = 'train_dataloader' if pipeline == 'train' else 'val_dataloader'
    steps = cfg[loader].dataset.pipeline
    assert steps[-1]['type'].startswith('Pack'), steps[-1]
    return steps[-1]


def _collate(packed):
    return dict(inputs=[p['inputs'] for p in packed],
                data_samples=[p['data_samples'] for p in packed])


def seg_batch(cfg: Config, size: int, batch: int, pipeline: str):
    pack = TRANSFORMS.build(_packer(cfg, pipeline))
    rng = np.random.default_rng(0)
    packed = []
    for _ in range(batch):
        packed.append(
            pack(
                dict(img=rng.integers(0, 256, (size, size, 3), np.uint8),
                     gt_seg_map=rng.integers(0, 4, (size, size), np.uint8),
                     img_path=None, seg_map_path=None, ori_shape=(size, size),
                     img_shape=(size, size), pad_shape=(size, size),
                     scale_factor=(1.0, 1.0), flip=False, flip_direction=None,
                     reduce_zero_label=False)))
    return _collate(packed)


def cls_batch(cfg: Config, size: int, batch: int, pipeline: str):
    pack = TRANSFORMS.build(_packer(cfg, pipeline))
    rng = np.random.default_rng(0)
    return _collate([
        pack(
            dict(img=rng.integers(0, 256, (size, size, 3), np.uint8),
                 gt_label=int(label), img_shape=(size, size),
                 ori_shape=(size, size)))
        for label in rng.integers(0, 10, batch)
    ])


def matting_batch(cfg: Config, size: int, batch: int, pipeline: str):
    """Merged image, one-hot trimap (the config's ``FormatTrimap``), alpha,
    fg and bg, packed by the config's ``PackInputs``; test samples also
    carry what ``LoadImageFromFile(save_original_img=True)`` keeps."""
    loader = 'train_dataloader' if pipeline == 'train' else 'val_dataloader'
    steps = cfg[loader].dataset.pipeline
    tail = [TRANSFORMS.build(step) for step in steps[-2:]]
    assert [step['type'] for step in steps[-2:]] == ['FormatTrimap',
                                                    'PackInputs']
    rng = np.random.default_rng(0)
    packed = []
    for _ in range(batch):
        trimap = rng.choice(np.array([0, 128, 255], np.uint8), (size, size))
        results = dict(
            merged=rng.integers(0, 256, (size, size, 3), np.uint8),
            trimap=trimap,
            alpha=rng.integers(0, 256, (size, size), np.uint8),
            fg=rng.integers(0, 256, (size, size, 3), np.uint8),
            bg=rng.integers(0, 256, (size, size, 3), np.uint8),
            ori_merged_shape=(size, size, 3), ori_trimap=trimap.copy(),
            ori_alpha=trimap.copy(), merged_channel_order='bgr',
            merged_color_type='color', alpha_channel_order='bgr',
            alpha_color_type='grayscale', trimap_channel_order='bgr',
            trimap_color_type='grayscale', fg_channel_order='bgr',
            fg_color_type='color', bg_channel_order='bgr',
            bg_color_type='color')
        if pipeline == 'train':
            for key in ('ori_merged_shape', 'ori_trimap', 'ori_alpha'):
                results.pop(key)
        for step in tail:
            results = step(results)
        packed.append(results)
    return _collate(packed)


def inpainting_batch(cfg: Config, size: int, batch: int, pipeline: str):
    """An image with a box hole, masked by the config's ``GetMaskedImage``
    and packed by its ``PackInputs``."""
    loader = 'train_dataloader' if pipeline == 'train' else 'val_dataloader'
    steps = cfg[loader].dataset.pipeline
    assert [step['type'] for step in steps[-2:]] == ['GetMaskedImage',
                                                    'PackInputs']
    tail = [TRANSFORMS.build(step) for step in steps[-2:]]
    rng = np.random.default_rng(0)
    packed = []
    for _ in range(batch):
        top, left = (int(v) for v in rng.integers(0, size // 2, 2))
        mask = np.zeros((size, size, 1), np.uint8)
        mask[top:top + size // 2, left:left + size // 2] = 1
        results = dict(gt=rng.integers(0, 256, (size, size, 3), np.uint8),
                       mask=mask,
                       mask_bbox=(top, left, size // 2, size // 2),
                       ori_gt_shape=(size, size, 3), gt_channel_order='bgr',
                       gt_color_type='color')
        for step in tail:
            results = step(results)
        packed.append(results)
    return _collate(packed)


# -- Cases -------------------------------------------------------------------


@dataclass(frozen=True)
class Zoo:
    """A zoo config and how to make a test of it.

    Args:
        name (str): Short name (test ids).
        scope (str): The codebase's default scope.
        config (str): The ``pkg::`` config name.
        shrink (callable): ``shrink(cfg, size)`` makes it test-sized.
        batch (callable): ``batch(cfg, size, n, 'train' | 'val')`` makes a
            batch of ``n`` as its dataloader would.
        size (int): Input height and width.
        train_batch, val_batch (int): Batch sizes.
    """
    name: str
    scope: str
    config: str
    shrink: Callable[[Config, int], None]
    batch: Callable
    size: int
    train_batch: int = 2
    val_batch: int = 2


PSPNET = Zoo('pspnet_r50', 'mmseg',
             'mmseg::pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512.py',
             shrink_mmseg, seg_batch, 32, train_batch=4)
DEEPLABV3PLUS = Zoo(
    'deeplabv3plus_r50', 'mmseg',
    'mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb4-80k_ade20k-512x512.py',
    shrink_mmseg, seg_batch, 32, train_batch=4)
DEEPLABV3PLUS_R18 = Zoo(
    'deeplabv3plus_r18', 'mmseg', 'mmseg::deeplabv3plus/'
    'deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py', shrink_mmseg,
    seg_batch, 32)
ERFNET = Zoo('erfnet', 'mmseg',
             'mmseg::erfnet/erfnet_fcn_4xb4-160k_cityscapes-512x1024.py',
             shrink_mmseg, seg_batch, 32, train_batch=4)
UPERNET = Zoo('upernet_r50', 'mmseg',
              'mmseg::upernet/upernet_r50_4xb4-80k_ade20k-512x512.py',
              shrink_mmseg, seg_batch, 32, train_batch=4)
RESNET18 = Zoo('resnet18', 'mmpretrain',
               'mmpretrain::resnet/resnet18_8xb32_in1k.py', shrink_mmpretrain,
               cls_batch, 64)
RESNET50 = Zoo('resnet50', 'mmpretrain',
               'mmpretrain::resnet/resnet50_8xb32_in1k.py', shrink_mmpretrain,
               cls_batch, 64)
MOBILENETV2 = Zoo('mobilenetv2', 'mmpretrain',
                  'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
                  shrink_mmpretrain, cls_batch, 64)
INCEPTIONV3 = Zoo('inceptionv3', 'mmpretrain',
                  'mmpretrain::inception_v3/inception-v3_8xb32_in1k.py',
                  shrink_mmpretrain, cls_batch, 75)
GLOBAL_LOCAL = Zoo('global_local', 'mmagic',
                   'mmagic::global_local/gl_8xb12_celeba-256x256.py',
                   shrink_mmagic_inpainting, inpainting_batch, 32)
GCA = Zoo('gca_r34', 'mmagic', 'mmagic::gca/gca_r34_4xb10-200k_comp1k.py',
          shrink_mmagic_matting, matting_batch, 32, val_batch=1)


@functools.lru_cache(maxsize=None)
def _zoo_config(name: str) -> Config:
    # Config.fromfile takes ``pkg::`` names only in ``_base_``; get_config
    # resolves them in the installed package (never downloads anything).
    return get_config(name)


def load(zoo: Zoo, swap: Optional[Callable], layer: Optional[dict]) -> Config:
    """The zoo config, test-sized, with ``swap(cfg, layer)`` applied."""
    cfg = copy.deepcopy(_zoo_config(zoo.config))
    _sync_bn_to_bn(cfg._cfg_dict)
    zoo.shrink(cfg, zoo.size)
    if swap is not None:
        swap(cfg, copy.deepcopy(layer))
    return cfg


def build(zoo: Zoo, cfg: Config) -> nn.Module:
    """``MODELS.build`` under the codebase's default scope, then
    ``init_weights`` as mmengine's Runner does (its per-parameter INFO log
    silenced)."""
    init_default_scope(zoo.scope)
    model = MODELS.build(cfg.model)
    MMLogger.get_current_instance()
    loggers = list(MMLogger._instance_dict.values())
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return model


def adaptive_layers(module: nn.Module, kind=(PAFU, ACDA)):
    """``{name: layer}`` of the PAFU and ACDA layers of ``module``."""
    return {
        name: m
        for name, m in module.named_modules() if isinstance(m, kind)
    }


def optim_wrapper_for(model: nn.Module):
    """A real SGD ``OptimWrapper``; GAN-style models (a ``generator`` and a
    ``disc``, as mmagic's inpaintors) get one per part in an
    ``OptimWrapperDict``, as their ``MultiOptimWrapperConstructor`` does."""

    def sgd(module):
        return OptimWrapper(
            torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9))

    if hasattr(model, 'generator') and hasattr(model, 'disc'):
        return OptimWrapperDict(generator=sgd(model.generator),
                                disc=sgd(model.disc))
    return sgd(model)


def train_steps(model: nn.Module, data, steps: int = 2):
    """``model.train_step`` ``steps`` times, as mmengine's train loop: the
    second step also moves the convs whose output a zero-initialised norm
    scales (mmpretrain's and mmagic's residual branches) at the first.
    Returns each step's log variables."""
    model.train()
    optim_wrapper = optim_wrapper_for(model)
    return [model.train_step(data, optim_wrapper) for _ in range(steps)]


def val_step(model: nn.Module, data):
    """``model.val_step`` as mmengine's ``ValLoop`` runs it: eval mode, no
    autograd."""
    model.eval()
    with torch.no_grad():
        return model.val_step(data)


@contextlib.contextmanager
def nonzero_gradients(layers: Dict[str, nn.Module]):
    """Yield the set that collects, by full name, every parameter of
    ``layers`` that receives a non-zero gradient while the context is
    entered.

    A gradient, not a changed value: a BatchNorm weight at 1.0 moved by
    less than float32's resolution there would look untrained.
    """
    reached = set()
    handles = [
        param.register_hook(functools.partial(
            lambda full_name, grad: reached.add(full_name)
            if bool(grad.ne(0).any()) else None, f'{name}.{p_name}'))
        for name, layer in layers.items()
        for p_name, param in layer.named_parameters()
    ]
    try:
        yield reached
    finally:
        for handle in handles:
            handle.remove()
