import pytest
import torch
import torch.nn as nn
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from mmpretrain.registry import MODELS

from pafu_acda_mm.layers import ACDA
from pafu_acda_mm.mmpretrain import AdResNet

# ACDA paper, appendix Table A, per stage: block, blocks, mid channels (the
# ACDA's), out channels, ACDA kernel size (None: a plain ResNet stage).
TABLE_A = {
    's': [(BasicBlock, 2, 64, 64, None), (BasicBlock, 2, 128, 128, None),
          (Bottleneck, 2, 128, 256, 7), (Bottleneck, 2, 256, 512, 5)],
    'm': [(Bottleneck, 2, 64, 256, None), (Bottleneck, 2, 128, 512, None),
          (Bottleneck, 2, 256, 512, 7), (Bottleneck, 2, 512, 1024, 5)],
    'l': [(Bottleneck, 2, 64, 256, None), (Bottleneck, 3, 128, 512, None),
          (Bottleneck, 8, 256, 512, 7), (Bottleneck, 3, 512, 1024, 5)],
}
# ACDA paper, Table 2 (millions, with the 1000-class FC layer).
PAPER_PARAMS = {'s': 3.85, 'm': 9.83, 'l': 18.19}


def classifier_params(backbone: nn.Module) -> int:
    """Backbone plus the 1000-way FC layer of Table A's output."""
    fc = backbone.feat_dim * 1000 + 1000
    return sum(p.numel() for p in backbone.parameters()) + fc


@pytest.mark.parametrize('arch', ['s', 'm', 'l'])
def test_stages_follow_table_a(arch):
    backbone = AdResNet(arch)
    for stage, (block, blocks, mid, out, acda_size) in enumerate(
            TABLE_A[arch]):
        layer = getattr(backbone, f'layer{stage + 1}')
        assert len(layer) == blocks
        for index, res_block in enumerate(layer):
            assert type(res_block) is block
            assert res_block.out_channels == out
            middle = res_block.conv2 if block is Bottleneck else (
                res_block.conv1)
            assert middle.out_channels == mid
            if acda_size is None:
                assert not any(
                    isinstance(m, ACDA) for m in res_block.modules())
                continue
            assert isinstance(res_block.conv2, ACDA)
            assert res_block.conv2.kernel_size == (acda_size, acda_size)
            assert res_block.conv2.scales == tuple(range(3, acda_size + 1, 2))
            # the ACDA carries the stage's stride, with "same" padding
            assert res_block.conv2.stride == ((2, 2) if index == 0 else
                                              (1, 1))
            assert res_block.conv2.padding == (acda_size // 2, ) * 2
    assert backbone.feat_dim == TABLE_A[arch][-1][3]


@pytest.mark.parametrize('arch', ['s', 'm'])
def test_forward_shapes_per_stage(arch):
    backbone = AdResNet(arch, out_indices=(0, 1, 2, 3))
    outs = backbone(torch.randn(2, 3, 64, 64))
    expected = [(2, out, 16 // 2**i, 16 // 2**i)
                for i, (*_, out, _) in enumerate(TABLE_A[arch])]
    assert [tuple(o.shape) for o in outs] == expected


# Parameters with the default (the authors' public) atom generator and with
# the paper's appendix A.3 generator (1x1 conv to 64, ReLU, 3x3 conv).
@pytest.mark.parametrize('arch, public_generator, paper_generator', [
    ('s', 3_575_032, 3_181_200),
    ('m', 10_025_976, 9_238_928),
    ('l', 18_472_728, 16_635_936),
])
def test_parameter_counts_against_the_paper(arch, public_generator,
                                            paper_generator):
    default = classifier_params(AdResNet(arch))
    assert default == public_generator
    # Table 2 within 10% (s: -7.1%, m: +2.0%, l: +1.6%)
    assert abs(default / 1e6 / PAPER_PARAMS[arch] - 1) < 0.10
    assert classifier_params(AdResNet(
        arch, acda_cfg=dict(type='ACDA'))) == paper_generator


def test_classifier_trains_the_acda_layers():
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            # with zero-initialised last norms no gradient reaches the ACDA
            backbone=dict(type='AdResNet', arch='s', zero_init_residual=False),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))
    model.init_weights()
    feats = model.extract_feat(torch.randn(2, 3, 32, 32))
    model.head(feats).logsumexp(1).sum().backward()
    acda = model.backbone.layer3[0].conv2
    assert acda.weight.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0
               for p in acda.atom_generator.parameters())


def test_bad_arch_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"arch must be one of \('s', 'm', "
                       r"'l'\), got 'xl'"):
        AdResNet('xl')
    with pytest.raises(ValueError, match='arch, not depth'):
        AdResNet('s', depth=18)
