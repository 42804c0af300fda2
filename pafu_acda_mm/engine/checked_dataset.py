"""Build a dataset only after checking that its files are where the config
says, with an error that names the missing path and the expected layout.

Upstream datasets fail late and obscurely on a wrong ``data_root``:
mmpretrain's CIFAR tries to download into it, an image folder yields
"0 samples" or a bare path error. Configs use :func:`CheckedDataset` in
place of the dataset type and keep every other key:
``dataset=dict(type='CheckedDataset', dataset_type='CIFAR10', data_root=...,
split='train', ...)``.

Layouts are known by class name (and apply to subclasses), so this module
imports no codebase: mmpretrain's ``CIFAR10``/``CIFAR100`` and
``ImageNet``/``CustomDataset``, mmseg's ``BaseSegDataset`` family
(``ADE20KDataset``), mmagic's ``BasicImageDataset`` (paired restoration
data). Other datasets get the ``data_root`` check only.
"""
from typing import Callable, Dict, List, Tuple

from mmengine import fileio
from mmengine.registry import DATASETS


def _cifar_layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    files = [name for name, _ in dataset_cls.train_list +
             dataset_cls.test_list] + [dataset_cls.meta['filename']]
    required = [
        fileio.join_path(dataset_cls.base_folder, name) for name in files
    ]
    return required, (
        f'  {dataset_cls.base_folder}/{{{", ".join(files)}}}\n'
        f'  (the "python version" archive {dataset_cls.url}, extracted)')


def _image_folder_layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    prefix = cfg.get('data_prefix') or cfg.get('split', '')
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', '')
    required = [path for path in (prefix, cfg.get('ann_file', '')) if path]
    return required, (
        '  <split>/<class>/<image>: images by class folder, <split> in '
        'train, val\n'
        '  or <split>/<image> and meta/<split>.txt: one "<image path '
        'relative to <split>> <label>" per line')


def _segmentation_layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    prefix = cfg.get('data_prefix') or {}
    images, labels = prefix.get('img_path'), prefix.get('seg_map_path')
    required = [path for path in (images, labels, cfg.get('ann_file')) if path]
    return required, (
        f'  {images}/<name><img_suffix>: the images\n'
        f'  {labels}/<name><seg_map_suffix>: their label maps\n'
        '  (ADE20K: the ADEChallengeData2016 folder, .jpg images, 8-bit .png '
        'labels 0-150 with 0 = other)')


def _paired_image_layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    prefix = cfg.get('data_prefix') or {}
    templates = cfg.get('filename_tmpl') or {}
    ann_file = cfg.get('ann_file')
    lines = [
        f'  {folder}/{templates.get(key, "{}").format("<name>")}<ext>: the '
        f'{key!r} images' for key, folder in prefix.items()
    ]
    if ann_file:
        lines.append(f'  {ann_file}: the "<name><ext>" to use, one per line '
                     '(further columns ignored)')
    else:
        search_key = cfg.get('search_key') or next(iter(prefix), None)
        lines.append(f'  (the <name>s: every image in {prefix.get(search_key)})')
    required = [*prefix.values(), *([ann_file] if ann_file else [])]
    return required, '\n'.join(lines)


# Class name (of the dataset or a base class) -> a function of the dataset
# class and its config giving the paths it needs, relative to data_root, and
# the layout to describe.
DATASET_LAYOUTS: Dict[str, Callable] = {
    'CIFAR10': _cifar_layout,
    'CustomDataset': _image_folder_layout,
    'BaseSegDataset': _segmentation_layout,
    'BasicImageDataset': _paired_image_layout,
}


def _layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    for cls in dataset_cls.__mro__:
        if cls.__name__ in DATASET_LAYOUTS:
            return DATASET_LAYOUTS[cls.__name__](dataset_cls, cfg)
    return [], '  (no layout known for this dataset type)'


@DATASETS.register_module()
def CheckedDataset(dataset_type: str, **kwargs):
    """Build ``dataset_type`` with ``kwargs`` once its files exist.

    Args:
        dataset_type (str): The dataset's registered type, looked up in the
            current default scope (e.g. ``'ImageNet'``, ``'ADE20KDataset'``).
        **kwargs: The dataset's arguments (``data_root``, ``split``,
            ``data_prefix``, ``ann_file``, ``pipeline``, ...).

    Returns:
        BaseDataset: The dataset, exactly as ``dict(type=dataset_type,
        **kwargs)`` builds it.

    Raises:
        FileNotFoundError: If ``data_root`` or a file or folder the dataset
            needs is missing; the message names the path, the data root
            and the expected layout.
    """
    with DATASETS.switch_scope_and_registry(None) as registry:
        dataset_cls = registry.get(dataset_type)
        if dataset_cls is None:
            raise KeyError(f'dataset_type {dataset_type!r} is not registered '
                           f'in the {registry.scope!r} scope')
        data_root = kwargs.get('data_root') or ''
        required, layout = _layout(dataset_cls, kwargs)
        paths = ([data_root] if data_root else []) + [
            fileio.join_path(data_root, rel) if data_root else rel
            for rel in required
        ]
        missing = next((path for path in paths if not fileio.exists(path)),
                       None)
        if missing is not None:
            raise FileNotFoundError(
                f'{dataset_type}: {missing!r} does not exist '
                f'(data_root={data_root!r}). Expected under data_root:\n'
                f'{layout}\nPoint the config at the data, e.g. '
                '--cfg-options train_dataloader.dataset.data_root=<path> '
                '(and val_dataloader, test_dataloader).')
        return registry.build(dict(type=dataset_type, **kwargs))
