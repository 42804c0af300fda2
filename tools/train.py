"""Train a model from an OpenMMLab config (mmseg, mmpretrain, mmagic or toy).

The config's ``default_scope`` picks the codebase; ``custom_imports`` loads
the plugin. Mirrors the upstream ``tools/train.py`` arguments. Distributed:
``tools/dist_train.sh`` (gloo and CPU DDP when there is no CUDA).
"""
import argparse
import logging

from mmengine.logging import print_log

from pafu_acda_mm.engine import (add_runner_arguments, build_runner,
                                 checkpoint_defect, destroy_distributed,
                                 find_readable_checkpoint, load_run_config)
from pafu_acda_mm.engine.runner_setup import add_training_hooks


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or with no value (or '
        '"auto") from the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    add_runner_arguments(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_run_config(args)

    if args.amp:
        if cfg.optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif cfg.optim_wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
            raise ValueError('--amp needs optim_wrapper.type OptimWrapper, '
                             f'got {cfg.optim_wrapper.type}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('resume') and cfg.get('load_from') is None:
        # Auto resume skips an unreadable latest checkpoint (written before
        # the writes were atomic, or damaged since).
        cfg.load_from = find_readable_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif cfg.get('resume'):
        defect = checkpoint_defect(cfg.load_from)
        if defect is not None:
            raise SystemExit(f'cannot resume from {cfg.load_from}: the '
                             f'checkpoint is unreadable ({defect})')

    add_training_hooks(cfg)

    build_runner(cfg).train()
    destroy_distributed()


if __name__ == '__main__':
    main()
