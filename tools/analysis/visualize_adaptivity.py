"""Pictures of what the adaptive layers choose at every pixel of an image.

    python tools/analysis/visualize_adaptivity.py CONFIG CKPT IMAGE --out DIR

For every PAFU: the selected kernel per pixel (PAFU paper figs. 3-5); for
every ACDA: the share of each basis scale (3x3 / 5x5 / 7x7) in the per-pixel
coefficients (ACDA paper fig. 7). Each map is drawn at its layer's output
resolution, stretched over the input image. The image is read as OpenMMLab
loaders read it (BGR, 0-255), multiplied by ``--scale`` and given to the
model's data preprocessor; models trained on [0, 1] inputs without a
normalising preprocessor (the toy SAD models) need ``--scale 1/255``.
"""
import argparse
import os
import os.path as osp
from fractions import Fraction

import mmcv
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint

from pafu_acda_mm.engine import AdaptivityRecorder, build_model_from_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Draw PAFU kernel selections and ACDA scale preferences')
    parser.add_argument('config', help='model config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('image', help='input image file')
    parser.add_argument('--out', required=True, help='directory for PNGs')
    parser.add_argument(
        '--scale', type=lambda text: float(Fraction(text)), default=1.0,
        help='multiply the 0-255 pixels by this first, e.g. 1/255')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def _overlay(axes, image: np.ndarray, value_map: np.ndarray, input_size,
             **imshow_kwargs):
    """Draw ``value_map`` over ``image``, stretched over the model input."""
    axes.imshow(image)
    height, width = input_size
    artist = axes.imshow(value_map, extent=(0, width, height, 0),
                         interpolation='nearest', alpha=0.55,
                         **imshow_kwargs)
    axes.set_axis_off()
    return artist


def draw_pafu_selection(path: str, name: str, image: np.ndarray,
                        selection: torch.Tensor, num_kernels: int,
                        input_size) -> None:
    """One PNG: the kernel index map ``(H_out, W_out)`` over the image."""
    figure = Figure(figsize=(6, 5), layout='constrained')
    axes = figure.add_subplot()
    colors = ListedColormap(
        [f'C{k % 10}' for k in range(num_kernels)], name='kernels')
    artist = _overlay(axes, image, selection.numpy(), input_size,
                      cmap=colors, vmin=-0.5, vmax=num_kernels - 0.5)
    figure.colorbar(artist, ax=axes, ticks=range(num_kernels),
                    label='selected kernel')
    axes.set_title(f'{name}: PAFU kernel selection')
    figure.savefig(path)


def draw_acda_scales(path: str, name: str, image: np.ndarray,
                     scale_weights: torch.Tensor, scales, input_size) -> None:
    """One PNG: a panel per basis scale, its share ``(H_out, W_out)``."""
    figure = Figure(figsize=(4.5 * len(scales), 4.5), layout='constrained')
    panels = figure.subplots(1, len(scales), squeeze=False)[0]
    for axes, share, size in zip(panels, scale_weights, scales):
        artist = _overlay(axes, image, share.numpy(), input_size,
                          cmap='viridis', vmin=0, vmax=1)
        axes.set_title(f'{size}x{size} bases')
    figure.colorbar(artist, ax=list(panels), label='share of |coefficients|')
    figure.suptitle(f'{name}: ACDA scale preference')
    figure.savefig(path)


def main():
    args = parse_args()
    _, model = build_model_from_config(args.config, args.cfg_options)
    load_checkpoint(model, args.checkpoint, map_location='cpu')

    image = mmcv.imread(args.image)  # BGR uint8, as OpenMMLab loaders
    inputs = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    data = model.data_preprocessor(dict(inputs=inputs * args.scale), False)
    with torch.no_grad(), AdaptivityRecorder(model) as recorder:
        model(data['inputs'], data.get('data_samples'), mode='tensor')
    selections, scale_weights = recorder.pop()
    if not selections and not scale_weights:
        raise ValueError(f'{args.config} builds no PAFU or ACDA layer')

    os.makedirs(args.out, exist_ok=True)
    rgb = mmcv.bgr2rgb(image)
    input_size = data['inputs'].shape[-2:]
    modules = dict(model.named_modules())
    for kind, records in (('pafu_selection', selections),
                          ('acda_scales', scale_weights)):
        for name, calls in records.items():
            for call, maps in enumerate(calls):
                suffix = f'_call{call}' if len(calls) > 1 else ''
                path = osp.join(args.out, f'{name}_{kind}{suffix}.png')
                if kind == 'pafu_selection':
                    draw_pafu_selection(path, name, rgb, maps[0],
                                        modules[name].num_kernels,
                                        input_size)
                else:
                    draw_acda_scales(path, name, rgb, maps[0],
                                     modules[name].scales, input_size)
                print_log(f'Wrote {path}', logger='current')


if __name__ == '__main__':
    main()
