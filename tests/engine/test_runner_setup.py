import argparse

import pytest
from mmengine.config import Config

from pafu_acda_mm.engine import (add_runner_arguments,
                                 enable_result_visualization, load_run_config)
from pafu_acda_mm.engine.runner_setup import (TRAIN_HOOKS_VARIABLE,
                                              add_training_hooks)


def test_run_config_applies_upstream_arguments(tmp_path):
    config = tmp_path / 'my_config.py'
    config.write_text('model = dict(type="X", depth=1)\n')
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_arguments(parser)
    cfg = load_run_config(
        parser.parse_args([
            str(config), '--cfg-options', 'model.depth=2', '--launcher',
            'pytorch'
        ]))
    assert cfg.model.depth == 2 and cfg.launcher == 'pytorch'
    assert cfg.work_dir == './work_dirs/my_config'
    with pytest.raises(SystemExit):
        parser.parse_args([str(config), '--launcher', 'mpi'])


@pytest.mark.parametrize('cfg, hook, visualizer', [
    (dict(default_scope='mmseg',
          default_hooks=dict(visualization=dict(type='SegVisualizationHook')),
          visualizer=dict(type='SegLocalVisualizer')),
     dict(type='SegVisualizationHook', draw=True),
     dict(type='SegLocalVisualizer', save_dir='out')),
    (dict(default_scope='mmpretrain',
          default_hooks=dict(visualization=dict(type='VisualizationHook',
                                                enable=False))),
     dict(type='VisualizationHook', enable=True, out_dir='out'), None),
    (dict(default_scope='mmagic',
          default_hooks=dict(),
          custom_hooks=[dict(type='BasicVisualizationHook', interval=1)],
          visualizer=dict(type='ConcatImageVisualizer')),
     None, dict(type='ConcatImageVisualizer', save_dir='out')),
], ids=['mmseg', 'mmpretrain', 'mmagic'])
def test_show_dir_switches_on_the_codebase_visualization(cfg, hook,
                                                         visualizer):
    cfg = Config(cfg)
    enable_result_visualization(cfg, 'out')
    if hook is not None:
        assert cfg.default_hooks.visualization == hook
    if visualizer is not None:
        assert cfg.visualizer == visualizer


@pytest.mark.parametrize('cfg, match', [
    (dict(default_scope=None), 'default_scope in'),
    (dict(default_scope='mmseg', default_hooks=dict()),
     'default_hooks.visualization'),
    (dict(default_scope='mmagic', custom_hooks=[]), 'BasicVisualizationHook'),
])
def test_show_dir_without_a_visualization_hook_is_refused(cfg, match):
    with pytest.raises(ValueError, match=match):
        enable_result_visualization(Config(cfg), 'out')


def test_custom_imports_given_by_cfg_options_are_imported(tmp_path):
    import argparse
    import sys

    from pafu_acda_mm.engine import load_run_config
    module = tmp_path / 'cfg_options_plugin.py'
    module.write_text('IMPORTED = True\n')
    sys.path.insert(0, str(tmp_path))
    try:
        args = argparse.Namespace(
            config='configs/pafu_sad/pafu_sad.py', launcher='none',
            work_dir=str(tmp_path), local_rank=0,
            cfg_options={'custom_imports.imports': ['cfg_options_plugin']})
        load_run_config(args)
        assert sys.modules['cfg_options_plugin'].IMPORTED
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop('cfg_options_plugin', None)


@pytest.mark.parametrize('switch', [None, '1', '0'])
def test_training_hooks_are_added_unless_switched_off(monkeypatch, switch):
    if switch is None:
        monkeypatch.delenv(TRAIN_HOOKS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(TRAIN_HOOKS_VARIABLE, switch)
    cfg = Config(
        dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook')),
             custom_hooks=[dict(type='RNGStateHook', seed_offset=1)]))
    added = add_training_hooks(cfg)
    hook_types = [hook['type'] for hook in cfg.custom_hooks]
    if switch == '0':
        assert not added
        assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
        assert hook_types == ['RNGStateHook']
    else:
        assert added
        assert cfg.default_hooks.checkpoint.type == 'CrashSafeCheckpointHook'
        # The config's own RNGStateHook is kept, not duplicated.
        assert hook_types == ['RNGStateHook', 'SelectionHealthHook']
        assert cfg.custom_hooks[0]['seed_offset'] == 1


def test_training_hooks_switch_refuses_other_values(monkeypatch):
    monkeypatch.setenv(TRAIN_HOOKS_VARIABLE, 'off')
    with pytest.raises(ValueError, match=TRAIN_HOOKS_VARIABLE):
        add_training_hooks(Config(dict()))
