"""Compare PAFU and ACDA with their plain twins on real photographs.

Writes photographs that ship inside installed packages (scikit-image,
matplotlib) as mmagic datasets (DIV2K sub-images + bicubic LR for training,
a held-out Set5-layout test set of other photographs, SIDD-layout pairs with
synthetic signal-dependent noise), trains every method with the project's
configs through ``tools/train.py`` (schedule shortened with
``--cfg-options``), tests each checkpoint with ``tools/test.py`` (mmagic's
PSNR/SSIM: Y channel, border = scale, for SR; RGB for denoising), and
writes to the work dir ``results.md`` (also printed), ``photo_crops.png``
and every run's logs under ``runs/``.

Pairs, both members trained with the same recipe, iterations and seeds:

- a single learned linear filter bank (linear PAFU with one kernel) vs
  linear PAFU with 16 kernels (``pafu-linear-5x5``);
- ESPCN vs PAFU-ESPCN;
- the plain restoration net vs the ACDA net, on denoising;
- the user's question, "does swapping PAFU / ACDA into my trained model
  help?": the trained ESPCN (plain net) continued for as many iterations
  again, as it is and as PAFU-ESPCN (ACDA net) warm-started from it
  (``load_from``: the layers convert the plain convs' parameters).

Usage::

    python tools/demo/run_photo_comparison.py [--work-dir DIR]
        [--seeds 3] [--iters-scale 1.0] [--jobs 2]

A seed's run is deterministic on a given machine and library build: one
thread per run, ``randomness.deterministic``, datasets listed from their
meta files.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

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
from pafu_acda_mm.mmagic.photo_datasets import (DENOISING_META_FILE,
                                                write_photo_datasets)

REPO = Path(__file__).resolve().parents[2]
SCALE = 3
TASK_TITLES = dict(sr=f'SR x{SCALE}', denoise='Denoising')
# Training patches (HR / clean side, pixels) and batch sizes.
PATCH = dict(sr=32 * SCALE, denoise=32)
BATCH = dict(sr=16, denoise=8)
# The learning rate drops tenfold for the last quarter of the iterations.
DECAY_AT = 0.75


class Method(NamedTuple):
    name: str
    config: str  # under configs/
    adaptive: bool  # the PAFU / ACDA member of its pair
    options: Optional[dict] = None  # its own --cfg-options


class Pair(NamedTuple):
    key: str  # its --pairs name
    task: str  # 'sr' or 'denoise'
    iters: int  # at --iters-scale 1
    learning_rate: float  # Adam, both members
    members: Tuple[Method, Method]
    recipe: Optional[dict] = None  # --cfg-options of both members
    # Key of the pair whose plain member's last checkpoint (same seed) both
    # members start from; None: from the configs' initialisation.
    start_from: Optional[str] = None


LINEAR_PAFU = f'pafu_sr/pafu-linear-5x5_x{SCALE}_1xb16-300k_div2k.py'
ESPCN = f'pafu_sr/espcn_x{SCALE}_1xb16-300k_div2k.py'
PAFU_ESPCN = f'pafu_sr/pafu-espcn_x{SCALE}_1xb16-300k_div2k.py'
PLAIN_NET = 'acda_sidd/plain-net_1xb16-300k_sidd.py'
ACDA_NET = 'acda_sidd/acda-net_1xb16-300k_sidd.py'
ESPCN_PAIR = Pair('espcn', 'sr', 600, 3e-3, (
    Method('ESPCN', ESPCN, False), Method('PAFU-ESPCN', PAFU_ESPCN, True)))
# The paper's network (128 channels, 8 bottlenecks) learns nothing in a
# CPU-minute: both members at 32 channels, 4 bottlenecks, half resolution
# inside.
DENOISE_PAIR = Pair('denoise', 'denoise', 500, 2e-3, (
    Method('Plain net', PLAIN_NET, False),
    Method('ACDA net', ACDA_NET, True)),
    {'model.generator.mid_channels': 32,
     'model.generator.bottleneck_channels': 32,
     'model.generator.num_blocks': 4,
     'model.generator.unshuffle_factor': 2})
PAIRS = (
    Pair('linear', 'sr', 600, 1e-2, (
        Method('Linear filter bank (1 kernel)', LINEAR_PAFU, False,
               {'model.generator.pafu_cfg.num_kernels': 1}),
        Method('Linear PAFU (16 kernels)', LINEAR_PAFU, True))),
    ESPCN_PAIR,
    # A trained plain model continued with its pair's recipe, as it is and
    # with PAFU / ACDA swapped in.
    ESPCN_PAIR._replace(key='espcn-warm', start_from='espcn', members=(
        Method('ESPCN, continued', ESPCN, False),
        Method('PAFU-ESPCN from ESPCN', PAFU_ESPCN, True))),
    DENOISE_PAIR,
    DENOISE_PAIR._replace(key='denoise-warm', start_from='denoise', members=(
        Method('Plain net, continued', PLAIN_NET, False),
        Method('ACDA net from plain net', ACDA_NET, True))),
)
PAIRS_BY_KEY = {pair.key: pair for pair in PAIRS}
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
        help="multiply every pair's iterations (e.g. 0.01 for a smoke run)")
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs in parallel, one CPU thread each')
    parser.add_argument(
        '--test-max-size', type=int, default=None,
        help='cut the test photographs to at most this size (smoke runs)')
    parser.add_argument('--tile-size', type=int, default=120,
                        help='training sub-image size')
    parser.add_argument(
        '--pairs', nargs='+', choices=[pair.key for pair in PAIRS],
        default=[pair.key for pair in PAIRS], help='the pairs to compare')
    args = parser.parse_args()
    for key in args.pairs:
        start_from = PAIRS_BY_KEY[key].start_from
        if start_from is not None and start_from not in args.pairs:
            parser.error(f'--pairs {key} continues the models of '
                         f'{start_from}: add {start_from}')
    for name in ('seeds', 'jobs'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if not args.iters_scale > 0:
        parser.error(f'--iters-scale must be > 0, got {args.iters_scale}')
    return args


def sr_test_config(work_dir: Path, config: str) -> Path:
    """A config inheriting ``config`` whose test set is its validation set
    (the Set5 layout and metrics): the one change to an SR config that
    ``--cfg-options`` cannot make (it tests a list of four sets)."""
    path = work_dir / 'configs' / Path(config).name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"_base_ = ['{REPO / 'configs' / config}']\n"
        'test_dataloader = [_base_.val_dataloader]\n'
        'test_evaluator = [_base_.val_evaluator]\n')
    return path


class Run(NamedTuple):
    pair: Pair
    method: Method
    seed: int
    iters: int
    work_dir: Path
    config: Path
    test_root: Path
    model_options: dict  # what builds the trained model
    train_options: List[str]
    test_options: List[str]
    # The run whose last checkpoint this one starts from, and its
    # iterations (None, 0: from the configs' initialisation).
    start_from: Optional[Path] = None
    start_iters: int = 0


def run_work_dir(work_dir: Path, method: Method, seed: int) -> Path:
    """Where the training + test of ``method`` at ``seed`` writes."""
    return work_dir / 'runs' / (
        re.sub(r'[^a-z0-9]+', '-', method.name.lower()).strip('-') +
        f'_seed{seed}')


def pair_iters(pair: Pair, iters_scale: float) -> int:
    return max(2, round(pair.iters * iters_scale))


def make_run(pair: Pair, method: Method, seed: int, iters_scale: float,
             work_dir: Path, data: Dict[str, Path], tile_size: int) -> Run:
    """The config and ``--cfg-options`` of one training + test."""
    sr = pair.task == 'sr'
    # A multiple of the scale (SR) or of the unshuffle factor (denoising).
    multiple = SCALE if sr else 4
    patch = min(PATCH[pair.task], tile_size) // multiple * multiple
    iters = pair_iters(pair, iters_scale)
    train_root, test_root = ((data['sr_train'], data['sr_test']) if sr else
                             (data['denoise_train'], data['denoise_test']))
    config = (sr_test_config(work_dir, method.config)
              if sr else REPO / 'configs' / method.config)
    model_options = dict(pair.recipe or {}, **(method.options or {}))
    test_loader = 'test_dataloader.0' if sr else 'test_dataloader'
    shared = [f'{key}={value}' for key, value in model_options.items()] + [
        'train_dataloader.num_workers=0', f'{test_loader}.num_workers=0',
        f'{test_loader}.dataset.data_root={test_root}'
    ]
    train = shared + [
        f'train_dataloader.dataset.data_root={train_root}',
        *([] if sr else
          [f'train_dataloader.dataset.ann_file={DENOISING_META_FILE}']),
        f'train_dataloader.dataset.pipeline.3.gt_patch_size={patch}',
        f'train_dataloader.batch_size={BATCH[pair.task]}',
        f'train_cfg.max_iters={iters}', 'val_dataloader=None',
        'val_cfg=None', 'val_evaluator=None',
        f'default_hooks.checkpoint.interval={iters}',
        f'default_hooks.logger.interval={max(1, iters // 10)}',
        f'optim_wrapper.optimizer.lr={pair.learning_rate}',
        f'param_scheduler.milestones=[{max(1, round(iters * DECAY_AT))}]',
        'param_scheduler.gamma=0.1', f'randomness.seed={seed}',
        'randomness.deterministic=True'
    ]
    start = PAIRS_BY_KEY.get(pair.start_from)
    start_from = start_iters = None
    if start is not None:
        plain = next(member for member in start.members
                     if not member.adaptive)
        start_from = run_work_dir(work_dir, plain, seed)
        start_iters = pair_iters(start, iters_scale)
    return Run(pair, method, seed, iters,
               run_work_dir(work_dir, method, seed), config, test_root,
               model_options, train, shared, start_from, start_iters or 0)


def run_tool(script: str, args: list, log_path: Path) -> Tuple[str, float]:
    """Run ``python <script> <args>`` from the repository root on one CPU
    thread, its output in ``log_path``.

    Returns:
        tuple[str, float]: The output, and the CPU seconds the process used
        (its time on an idle core, whatever else the machine runs).
    """
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(REPO), os.environ.get('PYTHONPATH', '')]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w') as log:
        process = subprocess.Popen([sys.executable, script, *map(str, args)],
                                   cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        # wait4: this child's own resource usage (the parallel runs' other
        # children are not counted).
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log_path.read_text()
    if process.returncode:
        raise RuntimeError(f'{script} exited {process.returncode}, see '
                           f'{log_path}:\n{output[-3000:]}')
    return output, usage.ru_utime + usage.ru_stime


def train_and_test(run: Run) -> dict:
    """Train ``run``, test its last checkpoint; return the test metrics,
    the training CPU seconds, the checkpoint and the last logged selection
    health."""
    # The checkpoint's name is known once its run has finished.
    load_from = [] if run.start_from is None else [
        'load_from=' + (run.start_from / 'last_checkpoint').read_text().strip()
    ]
    _, seconds = run_tool('tools/train.py', [
        run.config, '--work-dir', run.work_dir, '--cfg-options',
        *run.train_options, *load_from
    ], run.work_dir / 'train.log')
    checkpoint = (run.work_dir / 'last_checkpoint').read_text().strip()
    output, _ = run_tool('tools/test.py', [
        run.config, checkpoint, '--work-dir', run.work_dir / 'test',
        '--cfg-options', *run.test_options
    ], run.work_dir / 'test.log')
    line = re.findall(r'Iter\(test\) \[\d+/\d+\]\s+(.*)', output)[-1]
    metrics = {
        key: float(value)
        for key, value in re.findall(r'(\w+): (-?\d+\.\d+)', line)
    }
    return dict(metrics, seconds=seconds, checkpoint=checkpoint,
                health=last_logged_health(run.work_dir))


def last_logged_health(run_dir: Path) -> Dict[str, float]:
    """The last values of ``SelectionHealthHook``'s scalars (``pafu/...``,
    ``acda/...``) in the run's ``scalars.json``."""
    last = {}
    for path in run_dir.glob('*/vis_data/scalars.json'):
        for line in path.read_text().splitlines():
            last.update({
                key: value
                for key, value in json.loads(line).items()
                if key.startswith(('pafu/', 'acda/'))
            })
    return last


def least_balanced_pafu(health: Dict[str, float]) -> Dict[str, float]:
    """Perplexity, unused fraction and chosen-kernel probability of the PAFU
    with the lowest perplexity (empty without PAFU)."""
    layers = {key[:-len('/perplexity')] for key in health
              if key.startswith('pafu/') and key.endswith('/perplexity')}
    if not layers:
        return {}
    layer = min(layers, key=lambda name: health[f'{name}/perplexity'])
    return {stat: health[f'{layer}/{stat}']
            for stat in ('perplexity', 'unused', 'chosen_prob')}


def acda_pixel_variation(health: Dict[str, float]) -> Optional[float]:
    """The ACDA coefficients' standard deviation over pixels relative to
    their mean size, averaged over layers and scales (None without ACDA)."""
    ratios = [
        value / health[key.replace('_pixel_std', '_abs_mean')]
        for key, value in health.items()
        if key.startswith('acda/') and key.endswith('_pixel_std')
    ]
    return float(np.mean(ratios)) if ratios else None


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'))


def test_pairs(run: Run) -> List[tuple]:
    """``(name, input, ground truth)`` uint8 RGB images of the run's test
    set, in file order."""
    root = run.test_root
    if run.pair.task == 'sr':
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
    """The trained generator's output (uint8 RGB) on ``image``, and the
    first PAFU's selection map ``(H, W)`` with its number of kernels (None
    for models without PAFU)."""
    _, model = build_model_from_config(str(run.config), run.model_options)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    # The configs' data preprocessor: RGB divided by 255.
    inputs = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad(), AdaptivityRecorder(model.generator) as recorder:
        output = model.generator(inputs)
    selections, _ = recorder.pop()
    output = (output[0].permute(1, 2, 0) * 255).round().clamp(0, 255)
    name = next(iter(selections), None)
    selection = None if name is None else (
        selections[name][0][0],
        model.generator.get_submodule(name).num_kernels)
    return output.to(torch.uint8).numpy(), selection


def spread(values: List[float], digits: int, signed: bool = False) -> str:
    """``mean ± std`` (sample std over seeds; mean alone for one seed)."""
    sign = '+' if signed else ''
    if len(values) == 1:
        return f'{values[0]:{sign}.{digits}f}'
    return (f'{np.mean(values):{sign}.{digits}f} ± '
            f'{np.std(values, ddof=1):.{digits}f}')


def baseline_rows(runs: List[Run]) -> List[str]:
    """Bicubic (SR) and the noisy input itself (denoising)."""
    rows = []
    for task, name in (('sr', 'Bicubic'), ('denoise', 'Noisy input')):
        run = next((run for run in runs if run.pair.task == task), None)
        if run is None:
            continue
        pairs = test_pairs(run)
        outputs = [
            bicubic_upsample(image) if task == 'sr' else image
            for _, image, _ in pairs
        ]
        result = scores(task, outputs, [gt for *_, gt in pairs])
        rows.append(f'| {TASK_TITLES[task]} | {name} | - | - | '
                    f'{result["PSNR"]:.2f} | {result["SSIM"]:.4f} | - | - | '
                    '- | - | - |')
    return rows


def method_row(pair: Pair, method: Method, chosen: list,
               twin: Optional[list]) -> str:
    """One table row: ``chosen`` and ``twin`` are the ``(run, result)`` of
    this method and of the plain member of its pair, in seed order."""
    psnrs = [result['PSNR'] for _, result in chosen]
    gain = '-' if twin is None else spread(
        [ours - theirs['PSNR'] for ours, (_, theirs) in zip(psnrs, twin)], 2,
        signed=True)
    # A one-kernel PAFU has nothing to select: no health to show.
    health = [least_balanced_pafu(result['health']) for _, result in chosen
              if method.adaptive]
    health = [entry for entry in health if entry]
    pafu_columns = [
        spread([entry[stat] for entry in health], digits) if health else '-'
        for stat, digits in (('perplexity', 2), ('unused', 2),
                             ('chosen_prob', 2))
    ]
    run, result = chosen[0]
    iters = (f'{run.start_iters} + {run.iters}' if run.start_from
             else f'{run.iters}')
    return (f'| {TASK_TITLES[pair.task]} | {method.name} | '
            f'{result["params"] / 1e3:.1f}K | {iters} | '
            f'{spread(psnrs, 2)} | '
            f'{spread([r["SSIM"] for _, r in chosen], 4)} | {gain} | ' +
            ' | '.join(pafu_columns) +
            f' | {np.mean([r["seconds"] for _, r in chosen]):.0f} s |')


def results_table(runs: List[Run], results: List[dict]) -> str:
    """The markdown table and its notes."""
    rows = [
        '| Task | Method | Params | Iters | PSNR (dB) | SSIM | '
        'Δ PSNR vs twin | Kernel perplexity | Unused kernels | '
        'Chosen-kernel prob. | Train time |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
    ]
    rows += baseline_rows(runs)
    notes = []
    keys = {run.pair.key for run in runs}
    for pair in (pair for pair in PAIRS if pair.key in keys):
        by_method = {
            method.name: sorted(((run, result)
                                 for run, result in zip(runs, results)
                                 if run.method == method),
                                key=lambda item: item[0].seed)
            for method in pair.members
        }
        plain = next(m for m in pair.members if not m.adaptive)
        for method in pair.members:
            rows.append(
                method_row(pair, method, by_method[method.name],
                           by_method[plain.name] if method.adaptive else None))
            variation = [
                acda_pixel_variation(result['health'])
                for _, result in by_method[method.name]
            ]
            if any(value is not None for value in variation):
                notes.append(
                    f'{method.name}: coefficient standard deviation over an '
                    'image\'s pixels / mean absolute coefficient (the last '
                    'log, mean over layers and scales) '
                    f'{spread(variation, 3)}.')
        if pair.start_from is not None:
            start = PAIRS_BY_KEY[pair.start_from]
            notes.append(
                f'{" and ".join(m.name for m in pair.members)}: '
                'from the last checkpoint of the same seed\'s '
                f'{next(m for m in start.members if not m.adaptive).name} '
                '(`load_from`), trained with its recipe (a fresh optimizer '
                'and schedule; Iters: before + after).')
    seeds = len({run.seed for run in runs})
    recipe = '; '.join(
        f'{pair.members[0].name} vs {pair.members[1].name}: Adam '
        f'{pair.learning_rate:g}' + ''.join(
            f', {key.rsplit(".", 1)[-1]}={value}'
            for key, value in (pair.recipe or {}).items())
        for pair in PAIRS if pair.key in keys and pair.start_from is None)
    return '\n'.join(rows) + (
        f'\n\nMean ± sample standard deviation over {seeds} seed(s) '
        '(Δ PSNR: paired by seed). PSNR/SSIM by `tools/test.py` (mmagic\'s '
        f'metrics; SR on the Y channel with a {SCALE}-pixel border, '
        'denoising on RGB) on photographs not trained on. Kernel '
        'perplexity, unused kernels and chosen-kernel probability: the last '
        'values `SelectionHealthHook` logged in training (the least '
        'balanced PAFU of the model; 16 kernels in use uniformly give a '
        'perplexity of 16). Train time: CPU seconds of the training process '
        '(one thread, start-up included; a continued run: its own '
        'iterations).' +
        ''.join(f' {note}' for note in notes) +
        '\n\nRecipe: the configs\' models and losses; ' + recipe +
        f', tenfold lower for the last '
        f'{1 - DECAY_AT:.0%} of the iterations; patches of {PATCH["sr"]} HR '
        f'pixels (SR, batch {BATCH["sr"]}) and {PATCH["denoise"]} pixels '
        f'(denoising, batch {BATCH["denoise"]}).\n')


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


def figure_panels(runs: List[Run], results: List[dict]) -> dict:
    """Per task, the crop of the first test photograph as input, each
    method's output (seed 0), the ground truth, and the selection map of
    the PAFU models with several kernels."""
    panels = {}
    for task in dict.fromkeys(run.pair.task for run in runs):
        task_runs = [(run, result) for run, result in zip(runs, results)
                     if run.seed == 0 and run.pair.task == task]
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
            output, selection = predict(run, result['checkpoint'], image)
            # A one-kernel PAFU's map is uniform: not drawn.
            shown = selection is not None and selection[1] > 1
            images.append((run.method.name, output[hr_crop],
                           (selection[0][crop], selection[1])
                           if shown else None))
        images.append(('Ground truth', target[hr_crop], None))
        panels[f'{TASK_TITLES[task]}, {name}'] = images
    return panels


def draw_crops(path: Path, runs: List[Run], results: List[dict]) -> None:
    """One figure: a row of crops per task, and under a task with PAFU
    models a row of their selection maps."""
    panels = figure_panels(runs, results)
    grid_rows = [
        row for title, images in panels.items()
        for row in [(title, images, 'images')] +
        ([(title, images, 'selections')]
         if any(selection for *_, selection in images) else [])
    ]
    num_cols = max(len(images) for images in panels.values())
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
                axes.set_title(f'{label}:\nselected kernel per LR pixel',
                               fontsize=8)
        for axes in axes_row:
            axes.set_axis_off()
    figure.savefig(path, dpi=100)


def train_and_test_all(runs: List[Run], jobs: int) -> List[dict]:
    """:func:`train_and_test` every run, ``jobs`` at a time, a continued
    run once the run it starts from is done; the results in run order."""
    results: List[Optional[dict]] = [None] * len(runs)
    finished = set()  # work dirs
    cost = [run.iters * (3 if run.method.adaptive else 1) for run in runs]
    # Longest chains (a run and those continuing it) first, so that the
    # workers finish together.
    chain = [
        cost[i] + sum(cost[j] for j, other in enumerate(runs)
                      if other.start_from == run.work_dir)
        for i, run in enumerate(runs)
    ]
    waiting = sorted(range(len(runs)), key=lambda i: -chain[i])
    running = {}
    with ThreadPoolExecutor(jobs) as pool:
        while waiting or running:
            ready = [i for i in waiting
                     if runs[i].start_from in finished | {None}]
            for index in ready[:jobs - len(running)]:
                waiting.remove(index)
                running[pool.submit(train_and_test, runs[index])] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                results[index] = future.result()
                run = runs[index]
                finished.add(run.work_dir)
                print(f'[{len(finished)}/{len(runs)}] {run.method.name}, '
                      f'seed {run.seed}: PSNR {results[index]["PSNR"]:.2f} '
                      f'dB, trained in {results[index]["seconds"]:.0f} CPU-s',
                      flush=True)
    return results


def num_params(checkpoint: str) -> int:
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
        make_run(pair, method, seed, args.iters_scale, work_dir, data,
                 args.tile_size) for seed in range(args.seeds)
        for pair in PAIRS if pair.key in args.pairs
        for method in pair.members
    ]
    results = train_and_test_all(runs, args.jobs)
    for result in results:
        result['params'] = num_params(result['checkpoint'])
    report = results_table(runs, results)
    draw_crops(work_dir / 'photo_crops.png', runs, results)
    report += (f'\n![crops](photo_crops.png)\n\nTotal time: '
               f'{time.perf_counter() - start:.0f} s ({args.jobs} parallel '
               'runs).\n')
    (work_dir / 'results.md').write_text(report)
    print(report)


if __name__ == '__main__':
    main()
