"""CIFAR datasets for the config tests: upstream's, minus the md5 check of
the real files, which synthetic batches in the same format cannot pass.
Loading (the pickled batches, labels, meta) is upstream's."""
from mmengine.fileio import exists, join_path
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS


class _ExistenceCheckMixin:

    def _check_integrity(self) -> bool:
        folder = join_path(self.data_prefix['root'], self.base_folder)
        return all(
            exists(join_path(folder, name))
            for name, _ in self.train_list + self.test_list)


@DATASETS.register_module()
class CIFAR10WithoutMD5(_ExistenceCheckMixin, CIFAR10):
    """``CIFAR10`` accepting synthetic batches."""


@DATASETS.register_module()
class CIFAR100WithoutMD5(_ExistenceCheckMixin, CIFAR100):
    """``CIFAR100`` accepting synthetic batches."""
