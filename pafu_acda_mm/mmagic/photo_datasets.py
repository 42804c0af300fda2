"""Real photographs that ship inside installed packages (scikit-image's
sample images, matplotlib's sample data), written as the on-disk datasets
the pafu_sr and acda_sidd configs read: nothing is downloaded.

- Super-resolution training: DIV2K as mmagic's ``preprocess_div2k_dataset.py``
  leaves it (HR sub-images, their bicubic LR, the meta file).
- Super-resolution test: mmagic's Set5 layout (``GTmod12``, ``LRbicx<s>``).
- Denoising: mmagic's SIDD layout (``gt/<name>_GT.png``,
  ``noisy/<name>_NOISY.png``), the noise synthetic and signal-dependent,
  and a meta file listing the pairs: without one, mmagic's dataset lists a
  folder in the file system's order, which differs between machines and
  so changes the training batches of a seed.

Training and test photographs are different photographs.
"""
from importlib.util import find_spec
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
from mmagic.datasets.transforms import MATLABLikeResize
from PIL import Image

# (package, path inside it): colour photographs stored in the wheels.
PHOTO_FILES = {
    'chelsea': ('skimage', 'data/chelsea.png'),
    'rocket': ('skimage', 'data/rocket.jpg'),
    'motorcycle_left': ('skimage', 'data/motorcycle_left.png'),
    'motorcycle_right': ('skimage', 'data/motorcycle_right.png'),
    'ihc': ('skimage', 'data/ihc.png'),
    'astronaut': ('skimage', 'data/astronaut.png'),
    'coffee': ('skimage', 'data/coffee.png'),
    'grace_hopper': ('matplotlib', 'mpl-data/sample_data/grace_hopper.jpg'),
}
TRAIN_PHOTOS = ('chelsea', 'rocket', 'motorcycle_left', 'motorcycle_right',
                'ihc')
TEST_PHOTOS = ('astronaut', 'coffee', 'grace_hopper')
# The denoising sets' list of pairs, relative to their data_root.
DENOISING_META_FILE = 'meta_info.txt'


def photo_path(name: str) -> Path:
    """The file of photograph ``name`` inside its installed package.

    Args:
        name (str): A key of ``PHOTO_FILES``.

    Returns:
        Path: An existing image file.
    """
    if name not in PHOTO_FILES:
        raise ValueError(
            f'photo must be one of {sorted(PHOTO_FILES)}, got {name!r}')
    package, relative = PHOTO_FILES[name]
    spec = find_spec(package)
    if spec is None:
        raise FileNotFoundError(
            f'photo {name!r} ships with {package}, which is not installed')
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f'photo {name!r}: {path} does not exist')
    return path


def read_photo(name: str) -> np.ndarray:
    """Photograph ``name`` as an ``(H, W, 3)`` uint8 RGB array."""
    with Image.open(photo_path(name)) as image:
        return np.asarray(image.convert('RGB'))


def crop_to_multiple(image: np.ndarray, multiple: int,
                     max_size: Optional[int] = None) -> np.ndarray:
    """The centre of ``image`` whose height and width are multiples of
    ``multiple`` (and at most ``max_size`` when given), as mmagic's
    ``GTmod12`` images are cut."""
    height, width = image.shape[:2]
    if max_size is not None:
        height, width = min(height, max_size), min(width, max_size)
    height, width = height - height % multiple, width - width % multiple
    if height == 0 or width == 0:
        raise ValueError(f'image {image.shape[:2]} is smaller than '
                         f'multiple={multiple} / max_size={max_size}')
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    return image[top:top + height, left:left + width]


def bicubic_downsample(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB's ``imresize(hr, 1 / scale, 'bicubic')`` (mmagic's
    ``MATLABLikeResize``, with antialiasing), rounded to uint8: how the
    DIV2K and Set5 LR images are made.

    Args:
        hr (ndarray): ``(H, W, 3)`` uint8, ``H`` and ``W`` multiples of
            ``scale``.
        scale (int): The downsampling factor.

    Returns:
        ndarray: ``(H / scale, W / scale, 3)`` uint8.
    """
    if hr.shape[0] % scale or hr.shape[1] % scale:
        raise ValueError(f'hr size {hr.shape[:2]} must be a multiple of '
                         f'scale={scale}')
    resize = MATLABLikeResize(keys=['img'], scale=1 / scale)
    lr = resize.transform(dict(img=hr.astype(np.float64)))['img']
    return np.clip(np.round(lr), 0, 255).astype(np.uint8)


def poisson_gaussian_noise(clean: np.ndarray, rng: np.random.Generator,
                           shot: float = 0.01,
                           read: float = 0.02) -> np.ndarray:
    """Signal-dependent sensor noise: on ``x = clean / 255``, a Gaussian of
    variance ``shot * x + read**2`` (the heteroscedastic approximation of
    Poisson shot plus Gaussian read noise, as in camera noise models),
    clipped and rounded.

    Args:
        clean (ndarray): uint8 image.
        rng (Generator): The noise source.
        shot (float): Shot-noise gain (variance per unit of signal).
        read (float): Read-noise standard deviation.

    Returns:
        ndarray: uint8, the shape of ``clean``.
    """
    x = clean.astype(np.float64) / 255
    noisy = x + np.sqrt(shot * x + read**2) * rng.standard_normal(x.shape)
    return np.clip(np.round(noisy * 255), 0, 255).astype(np.uint8)


def tiles(image: np.ndarray, size: int) -> list:
    """The non-overlapping ``size`` x ``size`` tiles of ``image``, row by
    row (the remainder at the right and bottom is dropped)."""
    return [
        image[top:top + size, left:left + size]
        for top in range(0, image.shape[0] - size + 1, size)
        for left in range(0, image.shape[1] - size + 1, size)
    ]


def _save(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def write_sr_training_set(root: Path, scale: int,
                          photos: Sequence[str] = TRAIN_PHOTOS,
                          tile_size: int = 120) -> Path:
    """DIV2K's sub-image layout: ``DIV2K_train_HR_sub/<photo>_s001.png``,
    ``DIV2K_train_LR_bicubic/X<scale>_sub/<photo>_s001.png`` (its bicubic
    downsampling) and ``meta_info_DIV2K800sub_GT.txt``.

    Args:
        root (Path): The ``data_root`` to write.
        scale (int): The SR scale.
        photos (Sequence[str]): Keys of ``PHOTO_FILES``.
        tile_size (int): HR sub-image size, a multiple of ``scale``.

    Returns:
        Path: ``root``.
    """
    if tile_size % scale:
        raise ValueError(f'tile_size={tile_size} must be a multiple of '
                         f'scale={scale}')
    lines = []
    for photo in photos:
        for index, hr in enumerate(tiles(read_photo(photo), tile_size)):
            name = f'{photo}_s{index + 1:03d}.png'
            _save(hr, root / 'DIV2K_train_HR_sub' / name)
            _save(bicubic_downsample(hr, scale),
                  root / 'DIV2K_train_LR_bicubic' / f'X{scale}_sub' / name)
            lines.append(f'{name} ({tile_size},{tile_size},3)\n')
    (root / 'meta_info_DIV2K800sub_GT.txt').write_text(''.join(lines))
    return root


def write_sr_test_set(root: Path, scale: int,
                      photos: Sequence[str] = TEST_PHOTOS,
                      max_size: Optional[int] = None) -> Path:
    """mmagic's Set5 layout: ``GTmod12/<photo>.png`` (the centre, sizes a
    multiple of 12, at most ``max_size``) and ``LRbicx<scale>/<photo>.png``
    (its bicubic downsampling).

    Returns:
        Path: ``root``.
    """
    for photo in photos:
        hr = crop_to_multiple(read_photo(photo), 12, max_size)
        _save(hr, root / 'GTmod12' / f'{photo}.png')
        _save(bicubic_downsample(hr, scale),
              root / f'LRbicx{scale}' / f'{photo}.png')
    return root


def write_denoising_set(root: Path, photos: Sequence[str], seed: int,
                        tile_size: Optional[int] = None,
                        max_size: Optional[int] = None) -> Path:
    """mmagic's SIDD layout: ``gt/<name>_GT.png`` and
    ``noisy/<name>_NOISY.png``, the noisy image the clean one with
    :func:`poisson_gaussian_noise`, and ``DENOISING_META_FILE`` listing the
    ``<name>.png`` in writing order (the dataset's ``ann_file``).

    Args:
        root (Path): The ``data_root`` to write.
        photos (Sequence[str]): Keys of ``PHOTO_FILES``.
        seed (int): Seed of the noise.
        tile_size (int, optional): Cut each photograph into tiles of this
            size (training); None: one image per photograph, its centre
            cut to multiples of 12 and at most ``max_size``.
        max_size (int, optional): See ``tile_size``.

    Returns:
        Path: ``root``.
    """
    rng = np.random.default_rng(seed)
    lines = []
    for photo in photos:
        image = read_photo(photo)
        if tile_size is None:
            named = {photo: crop_to_multiple(image, 12, max_size)}
        else:
            named = {
                f'{photo}_s{index + 1:03d}': tile
                for index, tile in enumerate(tiles(image, tile_size))
            }
        for name, clean in named.items():
            _save(clean, root / 'gt' / f'{name}_GT.png')
            _save(poisson_gaussian_noise(clean, rng),
                  root / 'noisy' / f'{name}_NOISY.png')
            lines.append(f'{name}.png\n')
    (root / DENOISING_META_FILE).write_text(''.join(lines))
    return root


def write_photo_datasets(root: Path, scale: int, tile_size: int = 120,
                         test_max_size: Optional[int] = None,
                         train_photos: Sequence[str] = TRAIN_PHOTOS,
                         test_photos: Sequence[str] = TEST_PHOTOS
                         ) -> Dict[str, Path]:
    """Every dataset of the photograph comparison under ``root``.

    Args:
        root (Path): Output folder.
        scale (int): The SR scale.
        tile_size (int): Training sub-image size (SR and denoising).
        test_max_size (int, optional): Cut test images to at most this.
        train_photos, test_photos (Sequence[str]): Disjoint keys of
            ``PHOTO_FILES``.

    Returns:
        dict[str, Path]: Data roots ``sr_train`` (DIV2K layout),
        ``sr_test`` (Set5 layout), ``denoise_train`` and ``denoise_test``
        (SIDD layout).
    """
    shared = set(train_photos) & set(test_photos)
    if shared:
        raise ValueError('train_photos and test_photos must be different '
                         f'photographs, both have {sorted(shared)}')
    root = Path(root)
    return dict(
        sr_train=write_sr_training_set(root / 'DIV2K', scale, train_photos,
                                       tile_size),
        sr_test=write_sr_test_set(root / 'Photos', scale, test_photos,
                                  test_max_size),
        denoise_train=write_denoising_set(
            root / 'noisy_photos' / 'train', train_photos, seed=0,
            tile_size=tile_size),
        denoise_test=write_denoising_set(
            root / 'noisy_photos' / 'val', test_photos, seed=1,
            max_size=test_max_size))
