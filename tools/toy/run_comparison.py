"""Reproduce the papers' synthetic experiments end to end on the CPU.

Trains every method through its config (mmengine's Runner, the plugin's
layers from the registry), then writes to the work dir a results table
(``results.md``, also printed) and figures:

- ``sad``: FCNN, residual FCNN, KPN and PAFU on the Spatially Adaptive
  Dataset (PAFU paper 3.2, fig. 2): validation MAE per method, each
  method's output and error map, PAFU's selection map and learned kernels.
- ``patterns``: one 7x7 convolution vs one ACDA 7x7 layer on multi-scale
  pattern detection (ACDA paper 3.3, fig. 6): MSE on the training scene and
  on the scene shifted by (20, 20), detection recall, false positives and
  the translation-equivariance error of each output.

Usage::

    python tools/toy/run_comparison.py [--task sad|patterns|all]
        [--work-dir work_dirs/toy_comparison] [--iters-scale 1.0]
"""
import argparse
import os
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmengine.logging import print_log

from pafu_acda_mm.engine import AdaptivityRecorder, build_runner
from pafu_acda_mm.layers import PAFU
from pafu_acda_mm.toy import dirac_kernel
from pafu_acda_mm.toy.equivariance import shift_equivariance_error
from pafu_acda_mm.toy.figures import (plot_pafu_kernels,
                                      plot_pattern_detection,
                                      plot_sad_comparison)

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs')
SAD_METHODS = {
    'FCNN':
    'pafu_sad/fcnn_sad.py',
    'Residual FCNN':
    'pafu_sad/residual-fcnn_sad.py',
    'KPN':
    'pafu_sad/kpn_sad.py',
    'PAFU':
    'pafu_sad/pafu_sad.py',
    "PAFU, 36.9K-parameter selector (the paper's budget)":
    'pafu_sad/pafu-paper-budget_sad.py',
    'PAFU, kernels fixed to Dirac + zero (diagnostic)':
    'pafu_sad/pafu-fixed-kernels_sad.py',
}
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
    return parser.parse_args()


def train(config: str, work_dir: str, iters_scale: float):
    """Train one config; return its runner, validation metrics and time.

    Args:
        config (str): Config path under ``configs/``.
        work_dir (str): The run's work dir.
        iters_scale (float): Factor on ``max_iters`` (validation runs at
            the end either way).

    Returns:
        tuple[Runner, dict, float]: The trained runner (model in eval
        mode), the final validation metrics and the training seconds.
    """
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    cfg.launcher = 'none'
    cfg.work_dir = work_dir
    iters = max(1, round(cfg.train_cfg.max_iters * iters_scale))
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    runner = build_runner(cfg)
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    metrics = runner.val()
    runner.model.eval()
    return runner, metrics, seconds


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sad_comparison(work_dir: str, iters_scale: float) -> str:
    """Train the SAD methods; write figures; return the markdown table."""
    rows = [
        '| Method | Params | Val MAE | Val MSE | Train iters | Train time |',
        '|---|---:|---:|---:|---:|---:|'
    ]
    outputs, notes = {}, []
    for name, config in SAD_METHODS.items():
        stem = osp.splitext(config)[0]
        runner, metrics, seconds = train(config, osp.join(work_dir, stem),
                                         iters_scale)
        rows.append(f'| {name} | {num_params(runner.model) / 1e3:.1f}K | '
                    f'{metrics["toy/mae"]:.4f} | {metrics["toy/mse"]:.5f} | '
                    f'{runner.iter} | {seconds:.0f} s |')
        sample = runner.val_dataloader.dataset[0]
        with torch.no_grad(), AdaptivityRecorder(runner.model) as recorder:
            outputs[name] = runner.model(sample['inputs'][None],
                                         sample['target'][None])[0]
        selections, _ = recorder.pop()
        for layer_name, layer_selections in selections.items():
            pafu = runner.model.get_submodule(layer_name)
            notes.append(f'{name}: {pafu_kernel_note(pafu)}')
            plot_pafu_kernels(
                osp.join(work_dir, f'{stem}_selection_kernels.png'),
                sample['inputs'], layer_selections[0][0],
                per_kernel(pafu.kernels.detach(), pafu.num_kernels),
                per_kernel(pafu.bias.detach(), pafu.num_kernels))
    plot_sad_comparison(
        osp.join(work_dir, 'sad_comparison.png'), sample['inputs'],
        sample['target'], outputs)
    return '\n'.join(rows + [''] + notes)


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
                        sad_comparison(args.work_dir, args.iters_scale))
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
