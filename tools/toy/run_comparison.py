"""Reproduce the papers' synthetic experiments end to end on the CPU.

Trains every method through its config (mmengine's Runner, the plugin's
layers from the registry), then writes to the work dir a results table
(``results.md``, also printed) and figures:

- ``sad``: FCNN, residual FCNN, KPN and PAFU on the Spatially Adaptive
  Dataset (PAFU paper 3.2, fig. 2), with the PAFU of fixed optimal kernels
  as a diagnostic, and the paper-budget PAFU if ``--sad-methods`` names
  it; each trained from ``--seeds`` seeds
  (in ``--workers`` processes of one torch thread each, so a seed's run is
  the same whatever the machine's core count): the median and range of the
  validation MAE per method, for PAFU how many seeds learned the paper's
  kernel pair, and the first seed's outputs, error maps, PAFU selection
  map and learned kernels.
- ``patterns``: one 7x7 convolution vs one ACDA 7x7 layer on multi-scale
  pattern detection (ACDA paper 3.3, fig. 6): MSE on the training scene and
  on the scene shifted by (20, 20), detection recall, false positives and
  the translation-equivariance error of each output.

Usage::

    python tools/toy/run_comparison.py [--task sad|patterns|all]
        [--work-dir work_dirs/toy_comparison] [--iters-scale 1.0]
        [--seeds 3] [--workers 2] [--sad-methods fcnn kpn pafu ...]
"""
import argparse
import multiprocessing
import os
import os.path as osp
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from pafu_acda_mm.engine import AdaptivityRecorder, build_runner
from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.toy import (PAPERS_PAIR_DIRAC_TOLERANCE,
                              PAPERS_PAIR_ZERO_TOLERANCE, dirac_kernel,
                              is_papers_kernel_pair)
from pafu_acda_mm.toy.equivariance import shift_equivariance_error
from pafu_acda_mm.toy.figures import (plot_pafu_kernels,
                                      plot_pattern_detection,
                                      plot_sad_comparison)
from pafu_acda_mm.toy.training import train_and_validate

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs')
# Method id: (table label, config). The paper-budget PAFU costs 6x pafu_sad
# per iteration, so the default runs leave it out (--sad-methods adds it).
SAD_METHODS = {
    'fcnn': ('FCNN', 'pafu_sad/fcnn_sad.py'),
    'residual-fcnn': ('Residual FCNN', 'pafu_sad/residual-fcnn_sad.py'),
    'kpn': ('KPN', 'pafu_sad/kpn_sad.py'),
    'pafu': ('PAFU', 'pafu_sad/pafu_sad.py'),
    'pafu-paper-budget':
    ("PAFU, 36.9K-parameter selector (the paper's budget)",
     'pafu_sad/pafu-paper-budget_sad.py'),
    'pafu-fixed-kernels': ('PAFU, kernels fixed to Dirac + zero (diagnostic)',
                           'pafu_sad/pafu-fixed-kernels_sad.py'),
}
DEFAULT_SAD_METHODS = [
    method for method in SAD_METHODS if method != 'pafu-paper-budget'
]
PATTERN_METHODS = {
    'Conv 7x7': 'acda_patterns/conv_patterns.py',
    'ACDA 7x7': 'acda_patterns/acda_patterns.py',
}
SHIFT = (20, 20)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--task', choices=['sad', 'patterns', 'all'], default='all')
    parser.add_argument('--work-dir', default='work_dirs/toy_comparison')
    parser.add_argument(
        '--iters-scale',
        type=float,
        default=1.0,
        help='multiply every config\'s max_iters (e.g. 0.1 for a smoke run)')
    parser.add_argument(
        '--seeds',
        type=int,
        default=3,
        help='SAD: train every method from seeds 0 .. SEEDS - 1')
    parser.add_argument(
        '--workers',
        type=int,
        default=2,
        help='SAD: training processes at once, one torch thread each')
    parser.add_argument(
        '--sad-methods',
        nargs='+',
        choices=list(SAD_METHODS),
        default=DEFAULT_SAD_METHODS,
        help='SAD: the methods to train (default: all but '
        'pafu-paper-budget, which costs 6x pafu per iteration)')
    args = parser.parse_args()
    for name in ('seeds', 'workers'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    return args


def train(config: str,
          work_dir: str,
          iters_scale: float,
          seed: Optional[int] = None):
    """Train one config; return its runner, validation metrics and time.

    Args:
        config (str): Config path under ``configs/``.
        work_dir (str): The run's work dir.
        iters_scale (float): Factor on ``max_iters`` (validation runs at
            the end either way).
        seed (int, optional): Replaces the config's ``randomness.seed``.

    Returns:
        tuple[Runner, dict, float]: The trained runner (model in eval
        mode, with the weights that were validated), the final validation
        metrics and the seconds of training (its validation included).
    """
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.launcher = 'none'
    cfg.work_dir = work_dir
    iters = max(1, round(cfg.train_cfg.max_iters * iters_scale))
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    if seed is not None:
        cfg.randomness.seed = seed
    # One process trains several seeds: runner names must differ.
    cfg.experiment_name = f'{osp.basename(work_dir)}_{time.time_ns()}'
    runner = build_runner(cfg)
    start = time.perf_counter()
    metrics = train_and_validate(runner)
    return runner, metrics, time.perf_counter() - start


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_sad_seed(config: str, work_dir: str, iters_scale: float,
                   seed: int) -> dict:
    """Train one SAD method from one seed (in a worker process).

    Returns:
        dict: ``mae``, ``mse``, ``params``, ``iters``, ``seconds``; per PAFU
        layer ``papers_pair`` (bool) and ``note``; and for the figures the
        first validation image's ``inputs``, ``target``, ``output`` and
        per PAFU its ``selection`` map, ``kernels`` and ``bias``.
    """
    runner, metrics, seconds = train(config, work_dir, iters_scale, seed)
    sample = runner.val_dataloader.dataset[0]
    with torch.no_grad(), AdaptivityRecorder(runner.model) as recorder:
        output = runner.model(sample['inputs'][None],
                              sample['target'][None])[0]
    selections, _ = recorder.pop()
    pafus = []
    for layer_name, layer_selections in selections.items():
        pafu = runner.model.get_submodule(layer_name)
        pafus.append(
            dict(
                papers_pair=is_papers_kernel_pair(pafu),
                note=pafu_kernel_note(pafu),
                selection=layer_selections[0][0],
                kernels=per_kernel(pafu.kernels.detach(), pafu.num_kernels),
                bias=per_kernel(pafu.bias.detach(), pafu.num_kernels)))
    return dict(
        mae=metrics['toy/mae'],
        mse=metrics['toy/mse'],
        params=num_params(runner.model),
        iters=runner.iter,
        seconds=seconds,
        pafus=pafus,
        inputs=sample['inputs'],
        target=sample['target'],
        output=output)


def _single_thread() -> None:
    """Worker initialiser: one torch thread, so that a seed's float
    summation order, hence its result, does not depend on the machine."""
    torch.set_num_threads(1)


def sad_comparison(work_dir: str, iters_scale: float, seeds: int,
                   workers: int, methods: List[str]) -> str:
    """Train the SAD ``methods`` (keys of :data:`SAD_METHODS`) from every
    seed; write figures; return the markdown table."""
    configs = {SAD_METHODS[method][0]: SAD_METHODS[method][1]
               for method in methods}
    with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context('spawn'),
            initializer=_single_thread) as pool:
        futures = {(name, seed): pool.submit(
            train_sad_seed, config,
            osp.join(work_dir,
                     osp.splitext(config)[0] + f'_seed{seed}'),
            iters_scale, seed)
                   for name, config in configs.items()
                   for seed in range(seeds)}
        results = {run: future.result() for run, future in futures.items()}
    rows = [
        f'| Method | Params | Val MAE, median of {seeds} seeds | '
        'Val MAE, min - max | Val MAE per seed | '
        "PAFU kernels: the paper's pair | Train iters | Train time per run |",
        '|---|---:|---:|---:|---:|---:|---:|---:|'
    ]
    outputs, notes = {}, []
    for name, config in configs.items():
        per_seed: List[dict] = [results[name, seed] for seed in range(seeds)]
        maes = [run['mae'] for run in per_seed]
        pairs = ([all(p['papers_pair'] for p in run['pafus'])
                  for run in per_seed] if per_seed[0]['pafus'] else None)
        pair_cell = ('-' if pairs is None else
                     f'{sum(pairs)} of {seeds} seeds')
        rows.append(
            f'| {name} | {per_seed[0]["params"] / 1e3:.1f}K | '
            f'{statistics.median(maes):.4f} | '
            f'{min(maes):.4f} - {max(maes):.4f} | '
            f'{", ".join(f"{mae:.4f}" for mae in maes)} | {pair_cell} | '
            f'{per_seed[0]["iters"]} | '
            f'{statistics.median(run["seconds"] for run in per_seed):.0f} s |')
        first = per_seed[0]
        outputs[name] = first['output']
        for pafu in first['pafus']:
            notes.append(f'{name}: {pafu["note"]}')
            plot_pafu_kernels(
                osp.join(work_dir, sad_kernels_figure(config)),
                first['inputs'], pafu['selection'], pafu['kernels'],
                pafu['bias'])
    plot_sad_comparison(
        osp.join(work_dir, 'sad_comparison.png'), first['inputs'],
        first['target'], outputs)
    notes.insert(0, 'Learned kernels of seed 0 (Frobenius norms; '
                 "the paper's pair: one kernel within "
                 f'{PAPERS_PAIR_DIRAC_TOLERANCE} of the Dirac, the other of '
                 f'norm below {PAPERS_PAIR_ZERO_TOLERANCE}):')
    return '\n'.join(rows + [''] + notes)


def sad_kernels_figure(config: str) -> str:
    """The selection-and-kernels figure's file name of a SAD config:
    ``pafu_sad/pafu-fixed-kernels_sad.py`` ->
    ``sad_pafu_fixed_kernels_selection_kernels.png``."""
    stem = osp.splitext(osp.basename(config))[0]
    method = stem[:-len('_sad')] if stem.endswith('_sad') else stem
    return f'sad_{method.replace("-", "_")}_selection_kernels.png'


def per_kernel(tensor: torch.Tensor, num_kernels: int) -> torch.Tensor:
    """PAFU's kernel-major rows ``(n * C_out, ...)`` as ``(n, C_out, ...)``."""
    return tensor.view(num_kernels, -1, *tensor.shape[1:])


def pafu_kernel_note(pafu: PAFU) -> str:
    """How close each learned PAFU kernel is to a Dirac and to zero."""
    kernels = per_kernel(pafu.kernels.detach(), pafu.num_kernels)
    bias = per_kernel(pafu.bias.detach(), pafu.num_kernels)
    dirac = dirac_kernel(pafu)
    return 'kernels (Frobenius norms) ' + '; '.join(
        f'{n}: ||W - Dirac|| = {(kernels[n] - dirac).norm():.3f}, '
        f'||W|| = {kernels[n].norm():.3f}, ||b|| = {bias[n].norm():.3f}'
        for n in range(pafu.num_kernels)) + '.'


def pattern_comparison(work_dir: str, iters_scale: float) -> str:
    """Train Conv and ACDA on pattern detection; write the figure; return
    the markdown table."""
    rows = [
        '| Method | Params | MSE (train scene) | MSE (shifted scene) | '
        'Recall (shifted) | False positives (shifted) | '
        'Equivariance error | Train iters | Train time |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
    ]
    outputs, shifted_outputs = {}, {}
    for name, config in PATTERN_METHODS.items():
        runner, metrics, seconds = train(
            config, osp.join(work_dir,
                             osp.splitext(config)[0]), iters_scale)
        scene = runner.train_dataloader.dataset[0]
        shifted = runner.val_dataloader.dataset[0]
        with torch.no_grad():
            outputs[name] = runner.model(scene['inputs'][None],
                                         scene['target'][None])[0]
            shifted_outputs[name] = runner.model(shifted['inputs'][None],
                                                 shifted['target'][None])[0]
        # Receptive field radius: 4, the ACDA generator's 7x7 + 3x3 convs
        # (the filter reaches 3).
        error = shift_equivariance_error(
            outputs[name], shifted_outputs[name], SHIFT, margin=4)
        train_mse = (outputs[name] - scene['target']).square().mean()
        rows.append(f'| {name} | {num_params(runner.model) / 1e3:.2f}K | '
                    f'{train_mse:.2e} | {metrics["toy/mse"]:.2e} | '
                    f'{metrics["toy/recall"]:.2f} | '
                    f'{metrics["toy/false_positives"]:.0f} | {error:.1e} | '
                    f'{runner.iter} | {seconds:.0f} s |')
    plot_pattern_detection(
        osp.join(work_dir, 'patterns_detection.png'), scene['inputs'],
        scene['target'], outputs, shifted['inputs'], shifted_outputs)
    return '\n'.join(rows)


def main():
    args = parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    sections = []
    if args.task in ('sad', 'all'):
        sections.append('## SAD (PAFU paper 3.2)\n\n' +
                        sad_comparison(args.work_dir, args.iters_scale,
                                       args.seeds, args.workers,
                                       args.sad_methods))
    if args.task in ('patterns', 'all'):
        sections.append('## Pattern detection (ACDA paper 3.3)\n\n' +
                        pattern_comparison(args.work_dir, args.iters_scale))
    report = '\n\n'.join(sections) + '\n'
    path = osp.join(args.work_dir, 'results.md')
    with open(path, 'w') as file:
        file.write(report)
    print_log(
        f'results and figures written to {args.work_dir}', logger='current')
    print(report)


if __name__ == '__main__':
    main()
