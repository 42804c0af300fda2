import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.mmpretrain import PAFUImageClassifier

SMALL_BACKBONE = dict(
    type='PAFUResNet_CIFAR', depth=20, stem_channels=16, base_channels=16,
    num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ),
    pafu_cfg=dict(type='PAFU', num_kernels=4))


def classifier(model_type='PAFUImageClassifier', backbone=SMALL_BACKBONE,
               **kwargs):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(
            dict(type=model_type, backbone=backbone,
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=10,
                           in_channels=64),
                 data_preprocessor=dict(num_classes=10), **kwargs))
    model.init_weights()
    return model


def batch():
    inputs = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    samples = [DataSample().set_gt_label(label) for label in (3, 7)]
    return dict(inputs=list(inputs), data_samples=samples)


def test_loss_dict_has_the_weighted_decorrelation_loss():
    model = classifier(decorrelation_weight=0.25)
    assert isinstance(model, PAFUImageClassifier)
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'loss_decorrelation'}
    pafus = [m for m in model.modules() if isinstance(m, PAFU)]
    assert len(pafus) == 3
    expected = 0.25 * torch.stack([p.decorrelation_loss()
                                   for p in pafus]).mean()
    assert torch.allclose(losses['loss_decorrelation'], expected)


def test_train_step_reaches_every_kernel_of_every_pafu():
    model = classifier()
    model.train()
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    losses['loss_decorrelation'].backward()
    for pafu in (m for m in model.modules() if isinstance(m, PAFU)):
        per_kernel = pafu.weight.grad.reshape(pafu.num_kernels, -1)
        assert (per_kernel.abs().sum(1) > 0).all()


def test_state_dict_keys_equal_the_upstream_classifier():
    ours = classifier()
    upstream = classifier('ImageClassifier')
    assert list(ours.state_dict()) == list(upstream.state_dict())
    ours.load_state_dict(upstream.state_dict())
    ours.eval()
    upstream.eval()
    data = ours.data_preprocessor(batch())
    assert torch.equal(ours(data['inputs'], mode='tensor')[0],
                       upstream(data['inputs'], mode='tensor')[0])


def test_predict_mode_is_the_upstream_one():
    model = classifier().eval()
    data = model.data_preprocessor(batch())
    predictions = model(**data, mode='predict')
    assert [p.pred_score.shape for p in predictions] == [(10, )] * 2


def test_classifier_without_pafu_fails_when_built():
    with pytest.raises(ValueError, match='no PAFU module'):
        classifier(backbone=dict(SMALL_BACKBONE,
                                 stage_with_pafu=(False, False, False)))
