"""Ad-ResNet (ACDA paper, appendix A.4, Table A) on mmpretrain's ResNet."""
from typing import Optional

from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from mmpretrain.registry import MODELS

from ..models import build_conv_like

# The atom generator of the ACDA authors' public code: 3x3 conv to 64
# channels carrying the stride, BN, Tanh, 3x3 conv to the coefficients, BN,
# Tanh. 64 equals their max(64, m * S * m' / 2) for m=6 atoms and up to 3
# scales of 6 bases.
PUBLIC_ACDA_GENERATOR = dict(
    reduce_kernel_size=3,
    norm_cfg=dict(type='BN'),
    act_cfg=dict(type='Tanh'),
    out_act_cfg=dict(type='Tanh'),
    strided_reduce=True)


@MODELS.register_module()
class AdResNet(ResNet):
    """Ad-ResNet: a ResNet whose last two stages are dynamic bottlenecks.

    A dynamic bottleneck is mmpretrain's ``Bottleneck`` with its 3x3 conv
    replaced by an ACDA 7x7 (stage 3) or 5x5 (stage 4); stages 1-2 are plain
    ``BasicBlock`` (``'s'``) or ``Bottleneck`` (``'m'``, ``'l'``) stages, as
    in the paper's Table A (:attr:`arch_stages`). Stages 3-4 have expansion
    2: e.g. Ad-ResNet-m's stage 3 is 1x1 256, ACDA 7x7 256, 1x1 512.

    The stem (7x7 conv, stride 2, max pool) and everything else are
    ResNet's, e.g. ``strides=(1, 2, 2, 2)``, ``style='pytorch'`` (the ACDA
    carries the stride), ``out_indices=(3, )``. ``feat_dim`` is 512 (s) or
    1024 (m, l).

    Args:
        arch (str): ``'s'``, ``'m'`` or ``'l'``.
        acda_cfg (dict): The ACDA layers. Default: 6 atoms over Fourier-Bessel
            bases of every odd size up to the kernel size, with the authors'
            public atom generator (:data:`PUBLIC_ACDA_GENERATOR`).
            ``dict(type='ACDA')`` is the paper's appendix A.3 generator.
            With a 1000-way FC, s/m/l have 3.58/10.03/18.47 M parameters by
            default, 3.18/9.24/16.64 M with the A.3 generator; the paper's
            Table 2 says 3.85/9.83/18.19 M.
        **kwargs: ``ResNet``'s arguments except ``depth``.
    """

    # ACDA paper, Table A. Per arch, per stage: block, num_blocks,
    # out_channels, expansion (out / mid channels), ACDA kernel size (None:
    # the blocks stay as upstream builds them).
    arch_stages = {
        's': ((BasicBlock, 2, 64, 1, None), (BasicBlock, 2, 128, 1, None),
              (Bottleneck, 2, 256, 2, 7), (Bottleneck, 2, 512, 2, 5)),
        'm': ((Bottleneck, 2, 256, 4, None), (Bottleneck, 2, 512, 4, None),
              (Bottleneck, 2, 512, 2, 7), (Bottleneck, 2, 1024, 2, 5)),
        'l': ((Bottleneck, 2, 256, 4, None), (Bottleneck, 3, 512, 4, None),
              (Bottleneck, 8, 512, 2, 7), (Bottleneck, 3, 1024, 2, 5)),
    }
    # ResNet's table format: the block and blocks per stage it iterates.
    arch_settings = {
        arch: (stages[0][0], tuple(stage[1] for stage in stages))
        for arch, stages in arch_stages.items()
    }

    def __init__(self,
                 arch: str = 's',
                 acda_cfg: Optional[dict] = None,
                 **kwargs):
        if arch not in self.arch_stages:
            raise ValueError(f'arch must be one of {tuple(self.arch_stages)}, '
                             f'got {arch!r}')
        if 'depth' in kwargs:
            raise ValueError('AdResNet takes arch, not depth')
        self.arch = arch
        self.acda_cfg = (
            dict(type='ACDA', generator_cfg=PUBLIC_ACDA_GENERATOR)
            if acda_cfg is None else acda_cfg)
        super().__init__(depth=arch, **kwargs)

    def make_res_layer(self, **kwargs):
        """Build the next stage from :attr:`arch_stages`.

        ``ResNet.__init__`` calls this once per stage, in order, and derives
        channels from one block type; the stage's own block, channels and
        ACDA size replace them here.
        """
        stage = len(self.res_layers)  # stages built so far
        block, _, out_channels, expansion, acda_size = self.arch_stages[
            self.arch][stage]
        in_channels = (
            getattr(self, self.res_layers[-1])[-1].out_channels
            if stage else self.stem_channels)
        layer = super().make_res_layer(
            **dict(kwargs, block=block, in_channels=in_channels,
                   out_channels=out_channels, expansion=expansion))
        if acda_size is not None:
            for res_block in layer:
                res_block.conv2 = build_conv_like(res_block.conv2,
                                                  self.acda_cfg, acda_size)
        return layer
