"""Compare PAFU and ACDA with their plain twins on real photographs.

Writes photographs that ship inside installed packages (scikit-image,
matplotlib) as mmagic datasets (DIV2K sub-images + bicubic LR for training,
a held-out Set5-layout test set, SIDD-layout pairs with synthetic
Poisson-Gaussian noise), trains every method with the project's configs
through ``tools/train.py`` (schedule shortened with ``--cfg-options``),
evaluates each checkpoint with ``tools/test.py`` (mmagic's PSNR/SSIM: Y
channel, border = scale, for SR; RGB for denoising), and writes to the work
dir ``results.md`` (also printed), ``photo_crops.png`` and the per-run logs
under ``runs/``.

Pairs, each trained for the same iterations with the same recipe:

- a single learned linear filter bank (linear PAFU with one kernel) vs
  linear PAFU with 16 kernels (``pafu-linear-5x5``);
- ESPCN vs PAFU-ESPCN;
- the plain restoration net vs the ACDA net, on denoising.

Usage::

    python tools/demo/run_photo_comparison.py [--work-dir DIR]
        [--seeds 3] [--iters-scale 1.0] [--jobs 2]
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from mmagic.datasets.transforms import MATLABLikeResize
from mmagic.evaluation.metrics.psnr import psnr
from mmagic.evaluation.metrics.ssim import ssim
from mmengine.runner import load_checkpoint
from PIL import Image

from pafu_acda_mm.engine import AdaptivityRecorder, build_model_from_config
from pafu_acda_mm.mmagic.photo_datasets import write_photo_datasets

REPO = Path(__file__).resolve().parents[2]
SCALE = 3
# The shortened recipe shared by both members of a pair: the configs'
# Adam, at a rate that moves in a few hundred iterations.
LEARNING_RATE = 1e-3


class Method(NamedTuple):
    name: str
    task: str  # 'sr' or 'denoise'
    config: str  # under configs/
    iters: int  # at --iters-scale 1
    options: Optional[dict] = None  # --cfg-options of this method


METHODS = (
    Method('Linear, 1 kernel', 'sr',
           f'pafu_sr/pafu-linear-5x5_x{SCALE}_1xb16-300k_div2k.py', 600,
           dict({'model.generator.pafu_cfg.num_kernels': 1})),
    Method('Linear PAFU, 16 kernels', 'sr',
           f'pafu_sr/pafu-linear-5x5_x{SCALE}_1xb16-300k_div2k.py', 600),
    Method('ESPCN', 'sr', f'pafu_sr/espcn_x{SCALE}_1xb16-300k_div2k.py',
           400),
    Method('PAFU-ESPCN', 'sr',
           f'pafu_sr/pafu-espcn_x{SCALE}_1xb16-300k_div2k.py', 400),
    Method('Plain net', 'denoise', 'acda_sidd/plain-net_1xb16-300k_sidd.py',
           150),
    Method('ACDA net', 'denoise', 'acda_sidd/acda-net_1xb16-300k_sidd.py',
           150),
)
# Training patches (HR / clean side) and batch sizes.
PATCH = dict(sr=32 * SCALE, denoise=64)
BATCH = dict(sr=16, denoise=8)
# The figure's crop of the first test photograph: size (HR pixels) and
# centre (fractions of the height and width).
CROP_SIZE = 96
CROP_CENTRE = (0.3, 0.5)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/photo_comparison')
    parser.add_argument('--seeds', type=int, default=3,
                        help='training seeds per method (0 .. N-1)')
    parser.add_argument(
        '--iters-scale', type=float, default=1.0,
        help="multiply every method's iterations (e.g. 0.02 for a smoke run)")
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs in parallel, one CPU thread each')
    parser.add_argument(
        '--test-max-size', type=int, default=None,
        help='cut the test photographs to at most this size (smoke runs)')
    parser.add_argument('--tile-size', type=int, default=120,
                        help='training sub-image size')
    return parser.parse_args()


def sr_test_config(work_dir: Path, config: str) -> Path:
    """A config inheriting ``config`` whose test set is its validation set
    (the Set5 layout and metrics): the one change to an SR config that
    ``--cfg-options`` cannot make (it tests a list of four sets)."""
    path = work_dir / 'configs' / osp.basename(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"_base_ = ['{REPO / 'configs' / config}']\n"
        'test_dataloader = [_base_.val_dataloader]\n'
        'test_evaluator = [_base_.val_evaluator]\n')
    return path


class Run(NamedTuple):
    method: Method
    seed: int
    iters: int
    work_dir: Path
    config: Path
    train_options: List[str]
    test_options: List[str]


def make_run(method: Method, seed: int, iters_scale: float, work_dir: Path,
             data: Dict[str, Path], tile_size: int) -> Run:
    """The config and ``--cfg-options`` of one training + test."""
    # A multiple of the scale (SR) or of the ACDA net's unshuffle factor.
    multiple = SCALE if method.task == 'sr' else 4
    patch = min(PATCH[method.task], tile_size) // multiple * multiple
    iters = max(2, round(method.iters * iters_scale))
    run_dir = work_dir / 'runs' / (
        re.sub(r'[^a-z0-9]+', '-', method.name.lower()).strip('-') +
        f'_seed{seed}')
    train_root, test_root = ((data['sr_train'], data['sr_test'])
                             if method.task == 'sr' else
                             (data['denoise_train'], data['denoise_test']))
    if method.task == 'sr':
        config = sr_test_config(work_dir, method.config)
    else:
        config = REPO / 'configs' / method.config
    shared = [f'{key}={value}'
              for key, value in (method.options or {}).items()] + [
        'train_dataloader.num_workers=0', 'test_dataloader.0.num_workers=0'
        if method.task == 'sr' else 'test_dataloader.num_workers=0',
        'test_dataloader.0.dataset.data_root=' + str(test_root)
        if method.task == 'sr' else
        'test_dataloader.dataset.data_root=' + str(test_root)
    ]
    train = shared + [
        f'train_dataloader.dataset.data_root={train_root}',
        f'train_dataloader.dataset.pipeline.3.gt_patch_size={patch}',
        f'train_dataloader.batch_size={BATCH[method.task]}',
        f'train_cfg.max_iters={iters}', 'val_dataloader=None',
        'val_cfg=None', 'val_evaluator=None',
        f'default_hooks.checkpoint.interval={iters}',
        f'default_hooks.logger.interval={max(1, iters // 10)}',
        f'optim_wrapper.optimizer.lr={LEARNING_RATE}',
        f'randomness.seed={seed}'
    ]
    return Run(method, seed, iters, run_dir, config, train, shared)


def run_tool(script: str, args: list, log_path: Path) -> str:
    """Run ``python <script> <args>`` from the repository root on one CPU
    thread, its output in ``log_path``; return the output."""
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(REPO), os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, script, *map(str, args)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(result.stdout)
    if result.returncode:
        raise RuntimeError(f'{script} exited {result.returncode}, see '
                           f'{log_path}:\n{result.stdout[-3000:]}')
    return result.stdout


def train_and_test(run: Run) -> dict:
    """Train ``run``, test its last checkpoint; return the test metrics,
    the training seconds and the checkpoint."""
    start = time.perf_counter()
    run_tool('tools/train.py', [
        run.config, '--work-dir', run.work_dir, '--cfg-options',
        *run.train_options
    ], run.work_dir / 'train.log')
    seconds = time.perf_counter() - start
    checkpoint = (run.work_dir / 'last_checkpoint').read_text().strip()
    output = run_tool('tools/test.py', [
        run.config, checkpoint, '--work-dir', run.work_dir / 'test',
        '--cfg-options', *run.test_options
    ], run.work_dir / 'test.log')
    line = re.findall(r'Iter\(test\) \[\d+/\d+\]\s+(.*)', output)[-1]
    metrics = {
        key: float(value)
        for key, value in re.findall(r'(\w+): (-?\d+\.\d+)', line)
    }
    return dict(metrics, seconds=seconds, checkpoint=checkpoint,
                training_health=training_health(run.work_dir))


def training_health(run_dir: Path) -> Dict[str, float]:
    """The last logged selection-health scalars (``*perplexity*``,
    ``*unused*``) of a run's ``scalars.json``, if its log has them."""
    last = {}
    for path in run_dir.glob('*/vis_data/scalars.json'):
        for line in path.read_text().splitlines():
            for key, value in json.loads(line).items():
                if 'perplexity' in key or 'unused' in key:
                    last[key] = value
    return last


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def test_pairs(run: Run) -> List[tuple]:
    """``(name, input, ground truth)`` uint8 RGB images of the run's test
    set, in file order."""
    root = Path(run.test_options[-1].split('=', 1)[1])
    if run.method.task == 'sr':
        return [(path.stem, read_rgb(root / f'LRbicx{SCALE}' / path.name),
                 read_rgb(path))
                for path in sorted((root / 'GTmod12').iterdir())]
    return [(path.name[:-len('_GT.png')],
             read_rgb(root / 'noisy' / path.name.replace('_GT', '_NOISY')),
             read_rgb(path)) for path in sorted((root / 'gt').iterdir())]


def scores(task: str, outputs: list, targets: list) -> Dict[str, float]:
    """mmagic's PSNR and SSIM as the configs' test evaluators compute them:
    Y channel, border = scale (SR); RGB (denoising)."""
    options = (dict(crop_border=SCALE, convert_to='Y') if task == 'sr' else
               dict(crop_border=0))
    return {
        name: float(
            np.mean([
                metric(target, output, input_order='HWC',
                       channel_order='RGB', **options)
                for output, target in zip(outputs, targets)
            ]))
        for name, metric in (('PSNR', psnr), ('SSIM', ssim))
    }


def bicubic_upsample(lr: np.ndarray) -> np.ndarray:
    resize = MATLABLikeResize(keys=['img'], scale=SCALE)
    hr = resize.transform(dict(img=lr.astype(np.float64)))['img']
    return np.clip(np.round(hr), 0, 255).astype(np.uint8)


def predict(run: Run, checkpoint: str, image: np.ndarray):
    """The trained generator's output (uint8 RGB) on ``image`` and every
    PAFU's selection map ``(H, W)`` (empty for other models)."""
    _, model = build_model_from_config(str(run.config), run.method.options)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    # The configs' data preprocessor: RGB divided by 255.
    inputs = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad(), AdaptivityRecorder(model.generator) as recorder:
        output = model.generator(inputs)
    selections, _ = recorder.pop()
    output = (output[0].permute(1, 2, 0) * 255).round().clamp(0, 255)
    return (output.to(torch.uint8).numpy(),
            {name: calls[0][0] for name, calls in selections.items()},
            {name: model.generator.get_submodule(name).num_kernels
             for name in selections})


def test_image_usage(run: Run, checkpoint: str) -> Dict[str, float]:
    """Kernel usage of the run's PAFUs over all test images (eval-mode
    selections): perplexity ``exp(entropy)`` of the usage histogram and the
    fraction of kernels no pixel selects, the worst layer's."""
    counts = {}
    for _, image, _ in test_pairs(run):
        _, selections, num_kernels = predict(run, checkpoint, image)
        for name, selection in selections.items():
            counts[name] = counts.get(name, 0) + torch.bincount(
                selection.flatten(), minlength=num_kernels[name])
    if not counts:
        return {}
    usage = [count.double() / count.sum() for count in counts.values()]
    return dict(
        perplexity=min(
            float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()))
            for p in usage),
        unused=max(float((p == 0).double().mean()) for p in usage))


def spread(values: List[float], digits: int) -> str:
    """``mean ± std`` (sample std over seeds; mean alone for one seed)."""
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return (f'{np.mean(values):.{digits}f} ± '
            f'{np.std(values, ddof=1):.{digits}f}')


def baseline_rows(runs: List[Run]) -> List[str]:
    """Bicubic (SR) and the noisy input itself (denoising)."""
    rows = []
    for task, name in (('sr', 'Bicubic'), ('denoise', 'Noisy input')):
        run = next(run for run in runs if run.method.task == task)
        pairs = test_pairs(run)
        outputs = [
            bicubic_upsample(image) if task == 'sr' else image
            for _, image, _ in pairs
        ]
        result = scores(task, outputs, [gt for *_, gt in pairs])
        rows.append(f'| {TASK_TITLES[task]} | {name} | - | - | '
                    f'{result["PSNR"]:.2f} | {result["SSIM"]:.4f} | - | - |'
                    ' - |')
    return rows


TASK_TITLES = dict(sr=f'SR x{SCALE}', denoise='Denoising')


def results_table(runs: List[Run], results: List[dict]) -> str:
    rows = [
        '| Task | Method | Params | Iters | PSNR (dB) | SSIM | '
        'Test-image kernel perplexity | Unused kernels | Train time |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|'
    ]
    rows += baseline_rows(runs)
    health_notes = []
    for method in METHODS:
        chosen = [(run, result) for run, result in zip(runs, results)
                  if run.method == method]
        if not chosen:
            continue
        psnrs = [result['PSNR'] for _, result in chosen]
        ssims = [result['SSIM'] for _, result in chosen]
        usage = [result['usage'] for _, result in chosen if result['usage']]
        perplexity = spread([u['perplexity'] for u in usage], 1) if usage \
            else '-'
        unused = spread([u['unused'] for u in usage], 2) if usage else '-'
        rows.append(
            f'| {TASK_TITLES[method.task]} | {method.name} | '
            f'{chosen[0][1]["params"] / 1e3:.1f}K | {chosen[0][0].iters} | '
            f'{spread(psnrs, 2)} | {spread(ssims, 4)} | {perplexity} | '
            f'{unused} | {np.mean([r["seconds"] for _, r in chosen]):.0f} s '
            '|')
        for run, result in chosen:
            if result['training_health']:
                health_notes.append(
                    f'- {method.name}, seed {run.seed}: ' + ', '.join(
                        f'{key} {value:.3g}' for key, value in sorted(
                            result['training_health'].items())))
    seeds = len({run.seed for run in runs})
    text = '\n'.join(rows) + (
        f'\n\nMean ± sample standard deviation over {seeds} seed(s); '
        'PSNR/SSIM by `tools/test.py` (mmagic\'s metrics; SR on the Y '
        f'channel with a {SCALE}-pixel border, denoising on RGB). '
        'Perplexity and unused kernels: the PAFU layers\' eval-mode '
        'selections over the test images (the least balanced layer).\n')
    if health_notes:
        text += ('\nSelection health at the end of training (the last '
                 'logged values in each run\'s scalars.json):\n\n' +
                 '\n'.join(health_notes) + '\n')
    return text


def crop_window(size: tuple, multiple: int) -> tuple:
    """Row and column slices of the figure's crop of an image of
    ``size``, starting and ending on multiples of ``multiple``."""
    window = []
    for length, centre in zip(size, CROP_CENTRE):
        extent = min(CROP_SIZE, length) // multiple * multiple
        start = min(max(0, round(length * centre) - extent // 2),
                    length - extent) // multiple * multiple
        window.append(slice(start, start + extent))
    return tuple(window)


def draw_crops(path: Path, runs: List[Run], results: List[dict]) -> None:
    """One figure: per task, the crop of the first test photograph as
    input, each method's output (seed 0), the ground truth, and under the
    PAFU models their selection maps."""
    seed0 = [(run, result) for run, result in zip(runs, results)
             if run.seed == 0]
    panels = {}
    for task in TASK_TITLES:
        task_runs = [(run, result) for run, result in seed0
                     if run.method.task == task]
        name, image, target = test_pairs(task_runs[0][0])[0]
        factor = SCALE if task == 'sr' else 1
        hr_crop = crop_window(target.shape[:2], factor)
        crop = tuple(
            slice(window.start // factor, window.stop // factor)
            for window in hr_crop)
        images = [('Input', image[crop].repeat(factor, 0).repeat(factor, 1),
                   None)]
        if task == 'sr':
            images.append(('Bicubic', bicubic_upsample(image)[hr_crop], None))
        for run, result in task_runs:
            output, selections, num_kernels = predict(
                run, result['checkpoint'], image)
            selection = next(iter(selections.values()), None)
            # A one-kernel PAFU's map is uniform: not drawn.
            shown = selection is not None and max(num_kernels.values()) > 1
            images.append((run.method.name, output[hr_crop],
                           (selection[crop], max(num_kernels.values()))
                           if shown else None))
        images.append(('Ground truth', target[hr_crop], None))
        panels[f'{TASK_TITLES[task]}, {name}'] = images
    num_cols = max(len(images) for images in panels.values())
    # A row of selection maps under the tasks that have PAFU models.
    grid_rows = [(title, images, 'images') for title, images in panels.items()]
    grid_rows = [
        row for title, images, _ in grid_rows
        for row in [(title, images, 'images')] +
        ([(title, images, 'selections')]
         if any(selection for *_, selection in images) else [])
    ]
    figure = Figure(figsize=(2.2 * num_cols, 2.4 * len(grid_rows)),
                    layout='constrained')
    grid = figure.subplots(len(grid_rows), num_cols, squeeze=False)
    for axes_row, (title, images, kind) in zip(grid, grid_rows):
        for axes, (label, image, selection) in zip(axes_row, images):
            if kind == 'images':
                axes.imshow(image, interpolation='nearest')
                axes.set_title(f'{label}\n({title})' if label == 'Input'
                               else label, fontsize=8)
            elif selection is not None:
                kernels, num_kernels = selection
                axes.imshow(
                    kernels.numpy(), interpolation='nearest',
                    cmap=ListedColormap(
                        [f'C{k % 10}' for k in range(num_kernels)]),
                    vmin=-0.5, vmax=num_kernels - 0.5)
                axes.set_title(f'{label}: selected kernel', fontsize=8)
        for axes in axes_row:
            axes.set_axis_off()
    figure.savefig(path, dpi=100)


def num_params(run: Run, checkpoint: str) -> int:
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    return sum(value.numel() for key, value in state['state_dict'].items()
               if key.startswith('generator.'))


def main():
    args = parse_args()
    start = time.perf_counter()
    work_dir = Path(args.work_dir).resolve()
    data = write_photo_datasets(
        work_dir / 'data', SCALE, tile_size=args.tile_size,
        test_max_size=args.test_max_size)
    runs = [
        make_run(method, seed, args.iters_scale, work_dir, data,
                 args.tile_size)
        for seed in range(args.seeds) for method in METHODS
    ]
    # Longest runs first, so that the two workers finish together.
    order = sorted(range(len(runs)), key=lambda i: -runs[i].iters * (
        4 if runs[i].method.task == 'denoise' else 1))
    with ThreadPoolExecutor(args.jobs) as pool:
        finished = dict(zip(order, pool.map(train_and_test,
                                            [runs[i] for i in order])))
    results = [finished[i] for i in range(len(runs))]
    torch.set_num_threads(args.jobs)
    for run, result in zip(runs, results):
        result['usage'] = test_image_usage(run, result['checkpoint'])
        result['params'] = num_params(run, result['checkpoint'])
    report = results_table(runs, results)
    draw_crops(work_dir / 'photo_crops.png', runs, results)
    report += (f'\n![crops](photo_crops.png)\n\nTotal time: '
               f'{time.perf_counter() - start:.0f} s ({args.jobs} parallel '
               'runs).\n')
    (work_dir / 'results.md').write_text(report)
    print(report)


if __name__ == '__main__':
    main()
