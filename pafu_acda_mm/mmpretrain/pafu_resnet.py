"""PAFU-ResNet (PAFU paper, section 5.3) on mmpretrain's ResNets."""
from typing import Optional, Sequence

from mmpretrain.models.backbones.resnet import BasicBlock, ResNet
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR
from mmpretrain.registry import MODELS

from ..models import build_conv_like


class PAFUStagesMixin:
    """Make the first 3x3 conv of each stage's first block a PAFU.

    That is ``conv1`` of a ``BasicBlock`` and ``conv2`` of a ``Bottleneck``:
    the conv that carries the stage's stride in ``style='pytorch'``. The
    paper puts PAFU "in the first convolutional unit in each of the
    residual stacks", with 16 kernels.

    Args:
        depth (int): The ResNet's depth, a key of its ``arch_settings``.
        pafu_cfg (dict): The PAFU layers.
            Default: ``dict(type='PAFU', num_kernels=16)``.
        stage_with_pafu (Sequence[bool], optional): Per stage, whether its
            first block gets a PAFU. Default: every stage.
        **kwargs: The ResNet's arguments.
    """

    def __init__(self,
                 depth: int,
                 *args,
                 pafu_cfg: Optional[dict] = None,
                 stage_with_pafu: Optional[Sequence[bool]] = None,
                 **kwargs):
        if depth not in self.arch_settings:
            raise ValueError(f'depth must be one of '
                             f'{tuple(self.arch_settings)}, got {depth!r}')
        self.pafu_cfg = (dict(type='PAFU', num_kernels=16)
                         if pafu_cfg is None else pafu_cfg)
        self.stage_with_pafu = stage_with_pafu
        super().__init__(depth, *args, **kwargs)
        if (stage_with_pafu is not None
                and len(stage_with_pafu) != len(self.res_layers)):
            raise ValueError(
                f'stage_with_pafu must have one entry per stage '
                f'({len(self.res_layers)}), got {stage_with_pafu!r}')

    def make_res_layer(self, **kwargs):
        """Build a stage as upstream, then swap in its PAFU."""
        layer = super().make_res_layer(**kwargs)
        stage = len(self.res_layers)  # stages built before this one
        if self.stage_with_pafu is None or (
                stage < len(self.stage_with_pafu)
                and self.stage_with_pafu[stage]):
            first = layer[0]
            name = 'conv1' if isinstance(first, BasicBlock) else 'conv2'
            setattr(first, name,
                    build_conv_like(getattr(first, name), self.pafu_cfg))
        return layer


@MODELS.register_module()
class PAFUResNet(PAFUStagesMixin, ResNet):
    """mmpretrain's ``ResNet`` (ImageNet stem) with a PAFU opening each
    stage; see :class:`PAFUStagesMixin` for ``pafu_cfg`` and
    ``stage_with_pafu``."""


@MODELS.register_module()
class PAFUResNet_CIFAR(PAFUStagesMixin, ResNet_CIFAR):
    """mmpretrain's ``ResNet_CIFAR`` with a PAFU opening each stage, and the
    CIFAR ResNets of He et al. (2016, section 4.2) as further depths.

    Depths 20, 32, 44, 56 and 110 are ``6n + 2`` layers: three stages of
    ``n`` ``BasicBlock``; use them with ``num_stages=3, strides=(1, 2, 2),
    dilations=(1, 1, 1), out_indices=(2, )`` and 16 stem and base channels
    (16/32/64 channels per stage). Unlike He et al.'s option A (zero-padded
    identity shortcuts), mmpretrain's shortcuts are 1x1 convolutions.
    See :class:`PAFUStagesMixin` for ``pafu_cfg`` and ``stage_with_pafu``.
    """

    arch_settings = {
        **ResNet_CIFAR.arch_settings,
        **{6 * n + 2: (BasicBlock, (n, n, n))
           for n in (3, 5, 7, 9, 18)},
    }

    def __init__(self, depth: int, num_stages: int = 4, **kwargs):
        stages = len(self.arch_settings.get(depth, (None, ()))[1])
        if 0 < stages < num_stages:  # an unknown depth: see the mixin
            raise ValueError(
                f'depth={depth} has {stages} stages, got num_stages='
                f'{num_stages}: set num_stages={stages} and strides, '
                'dilations and out_indices for them')
        super().__init__(depth, num_stages=num_stages, **kwargs)
