import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from pafu_acda_mm.mmseg import PAFUEncoderDecoder

NORM = dict(type='BN', requires_grad=True)


def segmentor(model_type='PAFUEncoderDecoder', head_type='PAFUPSPHead',
              **kwargs):
    """A small PSPNet: ResNetV1c-18 (dilated), PSP head, FCN auxiliary."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(
            dict(type=model_type,
                 data_preprocessor=dict(type='SegDataPreProcessor',
                                        size=(32, 32)),
                 backbone=dict(type='ResNetV1c', depth=18, norm_cfg=NORM,
                               dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1)),
                 decode_head=dict(type=head_type, in_channels=512,
                                  in_index=3, channels=16, num_classes=4,
                                  norm_cfg=NORM),
                 auxiliary_head=dict(type='FCNHead', in_channels=256,
                                     in_index=2, channels=8, num_convs=1,
                                     num_classes=4, norm_cfg=NORM,
                                     loss_decode=dict(type='CrossEntropyLoss',
                                                      loss_weight=0.4)),
                 test_cfg=ConfigDict(mode='whole'), **kwargs))


def batch():
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32),
                                             ori_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 4, (1, 32, 32)))
        samples.append(sample)
    return dict(inputs=[torch.rand(3, 32, 32) * 255 for _ in range(2)],
                data_samples=samples)


def test_loss_dict_adds_the_decorrelation_loss_to_upstreams():
    model = segmentor(decorrelation_weight=2.0)
    assert isinstance(model, PAFUEncoderDecoder)
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {
        'decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg',
        'loss_decorrelation'
    }
    pafu = model.decode_head.bottleneck.conv
    assert torch.allclose(losses['loss_decorrelation'],
                          2.0 * pafu.decorrelation_loss())
    losses['loss_decorrelation'].backward()
    per_kernel = pafu.weight.grad.reshape(pafu.num_kernels, -1)
    assert (per_kernel.abs().sum(1) > 0).all()


def test_state_dict_keys_equal_the_upstream_segmentor():
    ours = segmentor()
    upstream = segmentor('EncoderDecoder')
    assert list(ours.state_dict()) == list(upstream.state_dict())
    upstream.load_state_dict(ours.state_dict())


def test_predict_gives_a_label_map_per_image():
    model = segmentor().eval()
    data = model.data_preprocessor(batch())
    predictions = model(**data, mode='predict')
    assert [p.pred_sem_seg.data.shape for p in predictions] == [(1, 32, 32)
                                                               ] * 2


def test_segmentor_without_pafu_fails_when_built():
    with pytest.raises(ValueError, match='no PAFU module'):
        segmentor(head_type='PSPHead')
