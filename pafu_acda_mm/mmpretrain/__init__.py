"""mmpretrain integration: Ad-ResNet, PAFU-ResNet, LeNet with adaptive convs
and the classifier trained with PAFU's decorrelation loss, registered in
``mmpretrain.registry.MODELS``. Imports only mmpretrain (and the layers)."""
from ..engine import checked_dataset  # noqa: F401  registers CheckedDataset
from .ad_resnet import PUBLIC_ACDA_GENERATOR, AdResNet
from .classifier import PAFUImageClassifier
from .lenet import LeNet
from .pafu_resnet import PAFUResNet, PAFUResNet_CIFAR, PAFUStagesMixin

__all__ = [
    'AdResNet', 'LeNet', 'PAFUImageClassifier', 'PAFUResNet',
    'PAFUResNet_CIFAR', 'PAFUStagesMixin', 'PUBLIC_ACDA_GENERATOR'
]
