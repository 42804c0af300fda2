"""From upstream-style tool arguments to a Runner (or, for the analysis and
deploy tools, a model), for every codebase.

The config's ``default_scope`` picks the codebase (mmseg, mmpretrain, mmagic
or none for the toy tasks); these helpers only touch what mmengine defines,
plus the codebases' result-visualisation hooks for ``--show-dir``.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook
from mmengine.registry import MODELS, RUNNERS, init_default_scope
from mmengine.runner import Runner
from mmengine.utils import import_modules_from_strings

from .atomic_checkpoints import CrashSafeCheckpointHook
from .distributed import LAUNCHERS, setup_cpu_distributed
from .rng_state_hook import RNGStateHook
from .runtime_changes import runtime_change_enabled
from .selection_health import SelectionHealthHook

# Setting it to 0 keeps a config's hooks as written (see add_training_hooks).
TRAIN_HOOKS_VARIABLE = 'PAFU_ACDA_MM_TRAIN_HOOKS'


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--work-dir``, ``--cfg-options``, ``--launcher`` and
    ``--local_rank`` as in the upstream tools."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with the runner arguments applied.

    Args:
        args (Namespace): Parsed arguments with ``config`` and those of
            :func:`add_runner_arguments`.

    Returns:
        Config: With ``launcher``, the ``--cfg-options`` merged and
        ``work_dir`` (CLI > config > ``./work_dirs/<config name>``).
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
        # Config.fromfile imported the file's own custom_imports only; ones
        # given by --cfg-options must not be silently ignored.
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_model_from_config(
        config: str,
        cfg_options: Optional[dict] = None) -> Tuple[Config, nn.Module]:
    """The config and its model, in eval mode, without a Runner.

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): ``--cfg-options`` to merge.

    Returns:
        tuple[Config, nn.Module]: The config, with its ``default_scope``
        (if any) initialised, and ``MODELS.build(cfg.model)``.
    """
    cfg = Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('default_scope') is not None:
        init_default_scope(cfg.default_scope)
    return cfg, MODELS.build(cfg.model).eval()


def add_training_hooks(cfg: Config) -> bool:
    """Make ``cfg``'s training crash-safe and observable, unless
    ``PAFU_ACDA_MM_TRAIN_HOOKS=0``: mmengine's ``CheckpointHook`` becomes
    :class:`CrashSafeCheckpointHook` (old checkpoints are removed only once
    the next one is complete), and :class:`RNGStateHook` (a resumed run
    continues PAFU's Gumbel noise) and :class:`SelectionHealthHook` (the log
    shows whether selections collapsed) join ``custom_hooks`` where absent.

    Args:
        cfg (Config): A training config, changed in place.

    Returns:
        bool: Whether the hooks were added.
    """
    if not runtime_change_enabled(TRAIN_HOOKS_VARIABLE):
        return False
    checkpoint_hook = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint_hook is not None and checkpoint_hook.get('type') in (
            'CheckpointHook', CheckpointHook):
        checkpoint_hook.type = CrashSafeCheckpointHook.__name__
    custom_hooks = list(cfg.get('custom_hooks', []))
    for hook_class in (RNGStateHook, SelectionHealthHook):
        if not any(hook.get('type') in (hook_class.__name__, hook_class)
                   for hook in custom_hooks):
            custom_hooks.append(dict(type=hook_class.__name__))
    cfg.custom_hooks = custom_hooks
    return True


def build_runner(cfg: Config) -> Runner:
    """Set up CPU distributed runs if needed, then build the Runner (or the
    config's ``runner_type``)."""
    setup_cpu_distributed(cfg)
    return (Runner.from_cfg(cfg)
            if 'runner_type' not in cfg else RUNNERS.build(cfg))


SHOW_DIR_SCOPES = ('mmseg', 'mmpretrain', 'mmagic')


def drop_training(cfg: Config) -> None:
    """Remove the training loop from a config used only for testing.

    A test needs no training data, but mmagic's ``BasicVisualizationHook``
    reads ``runner.iter``, which builds the training loop and its dataset
    when the config has one: testing would fail without the training set.
    Without ``train_dataloader``, ``train_cfg`` and ``optim_wrapper``, the
    Runner's ``iter`` is 0 and nothing of training is built.

    Args:
        cfg (Config): Modified in place.
    """
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler'):
        cfg[key] = None


def enable_test_time_augmentation(cfg: Config) -> None:
    """Test with the config's ``tta_pipeline`` and ``tta_model`` wrapping its
    model, as upstream ``tools/test.py --tta`` (mmseg's multi-scale + flip
    test, mmpretrain's flip test).

    Args:
        cfg (Config): Modified in place.

    Raises:
        ValueError: If the config has no ``tta_model`` or ``tta_pipeline``.
    """
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise ValueError(f'--tta needs {missing} in the config')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def enable_result_visualization(cfg: Config, show_dir: str) -> None:
    """Make the codebase's visualisation hook save test results to
    ``show_dir``, as the codebase's own ``tools/test.py`` does.

    By ``default_scope``: mmseg's ``default_hooks.visualization``
    (``SegVisualizationHook``) gets ``draw=True`` and the visualizer's
    ``save_dir`` becomes ``show_dir``; mmpretrain's
    ``default_hooks.visualization`` gets ``enable=True, out_dir=show_dir``;
    mmagic's ``BasicVisualizationHook`` (in ``custom_hooks``) draws test
    results through the visualizer, whose ``save_dir`` becomes ``show_dir``.

    Args:
        cfg (Config): Modified in place.
        show_dir (str): Directory for the pictures.

    Raises:
        ValueError: If ``default_scope`` is not one of
            :data:`SHOW_DIR_SCOPES` or the config lacks the hook.
    """
    scope = cfg.get('default_scope')
    if scope not in SHOW_DIR_SCOPES:
        raise ValueError(f'--show-dir needs default_scope in '
                         f'{SHOW_DIR_SCOPES}, got {scope!r}')
    if scope == 'mmagic':
        if not any(
                str(hook.get('type')).endswith('BasicVisualizationHook')
                for hook in cfg.get('custom_hooks', [])):
            raise ValueError('--show-dir needs a BasicVisualizationHook in '
                             'custom_hooks')
    elif 'visualization' not in cfg.get('default_hooks', {}):
        raise ValueError('--show-dir needs default_hooks.visualization')
    if scope == 'mmpretrain':
        cfg.default_hooks.visualization.update(enable=True, out_dir=show_dir)
        return
    if scope == 'mmseg':
        cfg.default_hooks.visualization.draw = True
    cfg.setdefault('visualizer', {})
    cfg.visualizer.save_dir = show_dir
