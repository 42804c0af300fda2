"""Test a checkpoint with an OpenMMLab config (mmseg, mmpretrain, mmagic or
toy), single process or under ``tools/dist_test.sh``.

Mirrors the upstream ``tools/test.py`` arguments; ``--out`` dumps the
predictions with mmengine's ``DumpResults`` (a ``.pkl`` file) for every
codebase.
"""
import argparse

from mmengine.evaluator import DumpResults

from pafu_acda_mm.engine import (add_runner_arguments, build_runner,
                                 destroy_distributed, drop_training,
                                 enable_result_visualization,
                                 enable_test_time_augmentation,
                                 load_run_config)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the predictions to this .pkl/.pickle file')
    parser.add_argument(
        '--show-dir',
        help='save pictures of the results here (through the codebase\'s '
        'visualisation hook)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: the config\'s tta_pipeline and '
        'tta_model (e.g. mmseg\'s multi-scale + flip test)')
    add_runner_arguments(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError(
            f'--out must end with .pkl or .pickle, got {args.out!r}')
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    drop_training(cfg)
    if args.show_dir is not None:
        enable_result_visualization(cfg, args.show_dir)
    if args.tta:
        enable_test_time_augmentation(cfg)

    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()
    destroy_distributed()


if __name__ == '__main__':
    main()
