"""Tiny synthetic datasets in the real on-disk formats, for tests that run
the shipped configs without downloading anything."""
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENET_CLASSES = ('n01440764', 'n01443537')


def _random_image(rng: np.random.Generator, height: int,
                  width: int) -> Image.Image:
    return Image.fromarray(
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_imagenet(root: Path, per_class: int = 2, size: int = 40) -> Path:
    """ImageNet as mmpretrain reads it: ``train/<wnid>/*.JPEG`` (labels from
    the class folders) and a flat ``val/`` with ``meta/val.txt`` (``<file>
    <label>`` lines, the annotation-file route). Images exist for
    :data:`IMAGENET_CLASSES` (labels 0 and 1); the other 998 class folders
    are empty (mmpretrain requires all 1000).

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(0)
    (root / 'meta').mkdir(parents=True)
    (root / 'val').mkdir()
    val_lines = []
    for label, wnid in enumerate(IMAGENET_CLASSES):
        (root / 'train' / wnid).mkdir(parents=True)
        for index in range(per_class):
            _random_image(rng, size, size + 8).save(
                root / 'train' / wnid / f'{wnid}_{index}.JPEG')
            name = f'ILSVRC2012_val_{label * per_class + index + 1:08d}.JPEG'
            _random_image(rng, size + 8, size).save(root / 'val' / name)
            val_lines.append(f'{name} {label}\n')
    for label in range(len(IMAGENET_CLASSES), 1000):
        (root / 'train' / f'n9{label:07d}').mkdir()
    (root / 'meta' / 'val.txt').write_text(''.join(val_lines))
    return root


def write_cifar(root: Path, num_classes: int = 10, num_train: int = 4,
                num_test: int = 4) -> Path:
    """CIFAR-10 (``cifar-10-batches-py/``: 5 training batches, ``test_batch``,
    ``batches.meta``) or CIFAR-100 (``cifar-100-python/``: ``train``,
    ``test``, ``meta``) as pickled dicts of uint8 rows ``(N, 3072)``.

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(0)

    def batch(count):
        labels = rng.integers(0, num_classes, count).tolist()
        return dict(data=rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                    filenames=[f'image_{i}.png' for i in range(count)],
                    **({'labels': labels} if num_classes == 10 else
                       {'fine_labels': labels,
                        'coarse_labels': [label // 5 for label in labels]}))

    if num_classes == 10:
        folder = root / 'cifar-10-batches-py'
        # the training images spread over the five batch files
        files = {f'data_batch_{i + 1}': batch(len(part)) for i, part in
                 enumerate(np.array_split(np.arange(num_train), 5))}
        files['test_batch'] = batch(num_test)
        files['batches.meta'] = dict(
            label_names=[f'class_{i}' for i in range(10)],
            num_cases_per_batch=num_train, num_vis=3072)
    elif num_classes == 100:
        folder = root / 'cifar-100-python'
        files = dict(train=batch(num_train), test=batch(num_test),
                     meta=dict(fine_label_names=[f'class_{i}'
                                                 for i in range(100)],
                               coarse_label_names=[f'super_{i}'
                                                   for i in range(20)]))
    else:
        raise ValueError(f'num_classes must be 10 or 100, got {num_classes}')
    folder.mkdir(parents=True)
    for name, content in files.items():
        with open(folder / name, 'wb') as f:
            pickle.dump(content, f, protocol=2)
    return root


def write_ade20k(root: Path, per_split: int = 4, size=(48, 64)) -> Path:
    """ADE20K's ``ADEChallengeData2016`` layout: ``images/{training,
    validation}/*.jpg`` and ``annotations/{training,validation}/*.png`` label
    maps with values 0 (other) to 150.

    Returns:
        Path: ``root``, to use as ``data_root``.
    """
    rng = np.random.default_rng(0)
    height, width = size
    for split, prefix in (('training', 'train'), ('validation', 'val')):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'annotations' / split).mkdir(parents=True)
        for index in range(per_split):
            name = f'ADE_{prefix}_{index + 1:08d}'
            _random_image(rng, height, width).save(
                root / 'images' / split / f'{name}.jpg')
            # a few large regions, as in real label maps
            labels = rng.integers(0, 151, (height // 8, width // 8),
                                  dtype=np.uint8).repeat(8, 0).repeat(8, 1)
            Image.fromarray(labels).save(root / 'annotations' / split /
                                         f'{name}.png')
    return root
