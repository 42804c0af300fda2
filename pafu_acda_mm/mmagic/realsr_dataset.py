"""RealSR (Cai et al. 2019, version 3) read as it ships: each HR image and
its LR image side by side in one folder per camera, split and scale."""
from typing import List, Sequence, Tuple

from mmagic.datasets import BasicImageDataset
from mmagic.registry import DATASETS
from mmengine import fileio

from ..engine import checked_dataset

HR_SUFFIX = '_HR.png'


@DATASETS.register_module()
class RealSRDataset(BasicImageDataset):
    """RealSR V3 LR/HR pairs of some cameras, one split and one scale.

    The pairs are ``<camera>/<split>/<scale>/<name>_HR.png`` and
    ``<name>_LR<scale>.png`` under ``data_root``, the LR ``scale`` times
    smaller; no annotation file is needed. Samples are listed camera by
    camera, sorted by name, with ``gt_path``, ``img_path`` and ``scale``
    (for ``PairedRandomCrop``).

    Args:
        scale (int): 2, 3 or 4.
        split (str): ``'Train'`` or ``'Test'``. Default: ``'Train'``.
        cameras (Sequence[str]): Cameras from ``('Canon', 'Nikon')``.
            Default: both.
        **kwargs: :class:`BasicImageDataset` arguments other than
            ``ann_file``, ``data_prefix``, ``filename_tmpl`` and
            ``search_key`` (``data_root``, ``pipeline``, ...).
    """

    METAINFO = dict(dataset_type='realsr', task_name='sisr')
    SCALES = (2, 3, 4)
    SPLITS = ('Train', 'Test')
    CAMERAS = ('Canon', 'Nikon')

    def __init__(self,
                 scale: int,
                 split: str = 'Train',
                 cameras: Sequence[str] = CAMERAS,
                 **kwargs):
        self.scale = scale
        self.pair_folders = self.folders(scale, split, cameras)
        super().__init__(
            data_prefix=dict(gt='', img=''),
            filename_tmpl=dict(gt='{}_HR', img=f'{{}}_LR{scale}'),
            search_key='gt',
            **kwargs)

    @classmethod
    def folders(cls,
                scale: int,
                split: str = 'Train',
                cameras: Sequence[str] = CAMERAS) -> List[str]:
        """The pair folders ``<camera>/<split>/<scale>``, relative to
        ``data_root``.

        Raises:
            ValueError: For a scale, split or camera RealSR does not have.
        """
        for name, value, allowed in (('scale', scale, cls.SCALES),
                                     ('split', split, cls.SPLITS)):
            if value not in allowed:
                raise ValueError(
                    f'{name} must be one of {allowed}, got {value!r}')
        if isinstance(cameras, str) or not cameras or any(
                camera not in cls.CAMERAS for camera in cameras):
            raise ValueError('cameras must be a non-empty sequence of '
                             f'{cls.CAMERAS}, got {cameras!r}')
        return [f'{camera}/{split}/{scale}' for camera in cameras]

    def _get_path_list_from_folder(self) -> List[str]:
        """``<folder>/<name>.png`` of every HR image, relative to
        ``data_root``: ``load_data_list`` adds the ``_HR`` and ``_LR<s>``
        templates."""
        root = self.data_prefix['gt']
        paths = []
        for folder in self.pair_folders:
            names = self.file_backend.list_dir_or_file(
                fileio.join_path(root, folder),
                list_dir=False,
                suffix=HR_SUFFIX)
            paths += sorted(f'{folder}/{name[:-len(HR_SUFFIX)]}.png'
                            for name in names)
        return paths

    def load_data_list(self) -> List[dict]:
        """BasicImageDataset's samples, each with its ``scale``."""
        return [
            dict(sample, scale=self.scale)
            for sample in super().load_data_list()
        ]


def _realsr_layout(dataset_cls, cfg: dict) -> Tuple[List[str], str]:
    folders = dataset_cls.folders(**{
        key: cfg[key]
        for key in ('scale', 'split', 'cameras') if key in cfg
    })
    return folders, (
        '  <camera>/<split>/<scale>/<name>_HR.png and <name>_LR<scale>.png: '
        'RealSR (V3) as it ships,\n'
        '  <camera> in Canon, Nikon; <split> in Train, Test; <scale> in 2, 3, '
        '4')


checked_dataset.DATASET_LAYOUTS['RealSRDataset'] = _realsr_layout
